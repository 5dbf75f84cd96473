package txn

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	clientv3 "go.etcd.io/etcd/client/v3"
)

var update = flag.Bool("update", false, "rewrite testdata/recovery/*.txt with the actual outputs")

// TestRecoveryScenarios runs the stories of testdata/recovery: each file
// is a sequence of commands, each followed by "----" and its expected
// output up to a blank line. Lines starting with # are comments. The
// commands (t1, t2... name transactions, r1, r2... routers):
//
//	prepare t1 by=r2 on=s0,s1    BEGIN, insert a row (t1, cluster), PREPARE, on each cluster
//	prepare-foreign GID on=s0    a prepared transaction named by someone else
//	decide t1 commit|abort [by=r2 on=s0,s1]   record a decision, as the transaction's router
//	finish t1 commit|rollback on=s0           COMMIT/ROLLBACK PREPARED by hand
//	register r2 / revoke r2      keep the router's registration alive / revoke its lease
//	recover as=r1 [timeout=D] [abort-retention=D] [in-flight=t1,...] [down=s1]
//	                             one recovery pass; down makes a primary unreachable
//	wait D                       sleep
//	state                        prepared transactions, visible rows, decisions
func TestRecoveryScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/recovery/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			resetPrimaries(t)
			runScenario(t, file)
		})
	}
}

// scenario is the state of one running script.
type scenario struct {
	t        *testing.T
	ctx      context.Context
	cli      *clientv3.Client
	prefix   string
	epoch    string
	seq      uint64
	conns    map[string]*pgconn.PgConn
	registry *Registry
	regs     map[string]*Registration
	txns     map[string]*scenarioTxn
}

type scenarioTxn struct {
	name, router, txid string
	clusters           []string
}

func runScenario(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cli, prefix := testEtcd(t)
	s := &scenario{t: t, ctx: testContext(t), cli: cli, prefix: prefix, epoch: newEpoch(),
		conns: map[string]*pgconn.PgConn{}, regs: map[string]*Registration{}, txns: map[string]*scenarioTxn{}}
	s.registry = NewRegistry(cli, prefix+"routers/", nil)
	t.Cleanup(func() {
		for _, g := range s.regs {
			g.Close(context.Background())
		}
	})

	var out strings.Builder
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			continue
		}
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s:%d: command without ----", file, i+1)
		}
		var want []string
		j := i + 2
		for ; j < len(lines) && lines[j] != ""; j++ {
			want = append(want, lines[j])
		}
		got := s.run(line)
		if !*update && strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", file, i+1, line, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		fmt.Fprintf(&out, "%s\n----\n%s\n", line, strings.Join(got, "\n"))
		if j < len(lines) {
			out.WriteString("\n")
		}
		i = j
	}
	if *update {
		if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// run runs one command and returns its output lines.
func (s *scenario) run(line string) []string {
	t := s.t
	fields := strings.Fields(line)
	args := map[string]string{}
	var pos []string
	for _, f := range fields[1:] {
		if k, v, ok := strings.Cut(f, "="); ok {
			args[k] = v
		} else {
			pos = append(pos, f)
		}
	}
	list := func(key string) []string {
		if args[key] == "" {
			return nil
		}
		return strings.Split(args[key], ",")
	}
	duration := func(key string) time.Duration {
		if args[key] == "" {
			return 0
		}
		d, err := time.ParseDuration(args[key])
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return d
	}
	ok := func(err error) []string {
		if err != nil {
			return []string{"error: " + s.render(err.Error())}
		}
		return []string{"ok"}
	}
	switch fields[0] {
	case "prepare":
		x := s.txn(pos[0], args["by"], list("on"))
		var err error
		for _, c := range x.clusters {
			gid, _ := participantGID(x.txid, c)
			err = errors.Join(err, s.prepare(c, fmt.Sprintf("INSERT INTO txn_rows VALUES ('%s', '%s')", x.name, c), gid))
		}
		return ok(err)
	case "prepare-foreign":
		return ok(s.prepare(args["on"], "SELECT 1", pos[0]))
	case "decide":
		x := s.txn(pos[0], args["by"], list("on"))
		var d Decision
		if err := d.UnmarshalText([]byte(pos[1])); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return ok(NewEtcdLog(s.cli, x.router, s.prefix+"txn/").Record(s.ctx, x.txid, d, x.clusters))
	case "finish":
		x := s.txns[pos[0]]
		verb := map[string]string{"commit": "COMMIT PREPARED ", "rollback": "ROLLBACK PREPARED "}[pos[1]]
		gid, _ := participantGID(x.txid, args["on"])
		_, err := s.conn(args["on"]).Exec(s.ctx, verb+quote(gid)).ReadAll()
		return ok(err)
	case "register":
		s.regs[pos[0]] = s.registry.Register(pos[0], 0)
		return ok(s.regs[pos[0]].Ready(s.ctx))
	case "revoke":
		err := s.regs[pos[0]].Close(s.ctx)
		delete(s.regs, pos[0])
		return ok(err)
	case "wait":
		d, _ := time.ParseDuration(pos[0])
		time.Sleep(d)
		return []string{"ok"}
	case "recover":
		return s.recover(args["as"], duration("timeout"), duration("abort-retention"), list("in-flight"), list("down"))
	case "state":
		return s.state()
	}
	t.Fatalf("unknown command %q", line)
	return nil
}

// txn returns the named transaction, making it on first use.
func (s *scenario) txn(name, router string, clusters []string) *scenarioTxn {
	if x, ok := s.txns[name]; ok {
		return x
	}
	if router == "" {
		s.t.Fatalf("transaction %s: by= is needed on first use", name)
	}
	s.seq++
	x := &scenarioTxn{name: name, router: router, txid: txnID(router, s.epoch, s.seq), clusters: clusters}
	s.txns[name] = x
	return x
}

// conn returns the scenario's session to a cluster's primary.
func (s *scenario) conn(cluster string) *pgconn.PgConn {
	if s.conns[cluster] == nil {
		s.conns[cluster] = connect(s.ctx, s.t, cluster)
	}
	return s.conns[cluster]
}

// prepare runs sql in a transaction that it prepares as gid.
func (s *scenario) prepare(cluster, sql, gid string) error {
	c := s.conn(cluster)
	for _, q := range []string{"BEGIN", sql, "PREPARE TRANSACTION " + quote(gid)} {
		if _, err := c.Exec(s.ctx, q).ReadAll(); err != nil {
			c.Exec(s.ctx, "ROLLBACK").ReadAll()
			return err
		}
	}
	return nil
}

func (s *scenario) recover(as string, timeout, retention time.Duration, inFlight, down []string) []string {
	prims := primaries()
	for _, c := range down {
		prims[c] = "postgres://postgres@127.0.0.1:1/app?sslmode=disable&connect_timeout=2"
	}
	flying := map[string]bool{}
	for _, name := range inFlight {
		flying[s.txns[name].txid] = true
	}
	log := NewEtcdLog(s.cli, as, s.prefix+"txn/")
	rec := NewRecovery(RecoveryOptions{
		RouterID:          as,
		Log:               log,
		Routers:           s.registry,
		InFlight:          func(txid string) bool { return flying[txid] },
		Primaries:         func() map[string]string { return prims },
		NoDecisionTimeout: timeout,
		AbortRetention:    retention,
	})
	rep, err := rec.RecoverOnce(s.ctx)
	if ferr := log.Flush(s.ctx); ferr != nil {
		s.t.Fatal(ferr)
	}
	var out []string
	add := func(format string, items []string) {
		items = slices.Clone(items)
		slices.Sort(items)
		for _, it := range items {
			out = append(out, fmt.Sprintf(format, s.render(it)))
		}
	}
	add("committed %s", rep.Committed)
	add("rolled back %s", rep.RolledBack)
	var left []string
	for _, u := range rep.Left {
		left = append(left, u.GID+": "+u.Reason)
	}
	add("left %s", left)
	add("forgotten %s", rep.Forgotten)
	if err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			// Keep "txn recovery: cluster s1: connect", drop the details.
			parts := strings.SplitN(e, ": ", 4)
			out = append(out, "error: "+s.render(strings.Join(parts[:min(3, len(parts))], ": ")))
		}
	}
	if len(out) == 0 {
		out = []string{"nothing to do"}
	}
	return out
}

func (s *scenario) state() []string {
	var out []string
	for _, c := range []string{"s0", "s1"} {
		var prepared, rows []string
		for _, r := range exec(s.ctx, s.t, s.conn(c), `SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER BY gid`) {
			prepared = append(prepared, s.render(string(r[0])))
		}
		for _, r := range exec(s.ctx, s.t, s.conn(c), `SELECT tx FROM txn_rows ORDER BY tx`) {
			rows = append(rows, string(r[0]))
		}
		out = append(out, fmt.Sprintf("%s prepared: %s", c, orNone(prepared)), fmt.Sprintf("%s rows: %s", c, orNone(rows)))
	}
	decisions, err := NewEtcdLog(s.cli, "test", s.prefix+"txn/").List(s.ctx, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	var ds []string
	for _, d := range decisions {
		ds = append(ds, fmt.Sprintf("%s %s %v by %s", s.render(d.Txn), d.Decision, d.Clusters, d.Router))
	}
	slices.Sort(ds)
	return append(out, "decisions: "+orNone(ds))
}

// render replaces transaction ids by the scenario's names: t1 for the
// transaction, t1@s0 for its GID on s0.
func (s *scenario) render(text string) string {
	type pair struct{ old, new string }
	var pairs []pair
	for _, x := range s.txns {
		pairs = append(pairs, pair{x.txid, x.name})
		for _, c := range []string{"s0", "s1"} {
			pairs = append(pairs, pair{x.txid + "." + c, x.name + "@" + c})
		}
	}
	// Longest first, so that t1 never eats the start of t10.
	slices.SortFunc(pairs, func(a, b pair) int { return len(b.old) - len(a.old) })
	var args []string
	for _, p := range pairs {
		args = append(args, p.old, p.new)
	}
	return strings.NewReplacer(args...).Replace(text)
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

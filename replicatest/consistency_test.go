package replicatest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/replication"
)

// With the replicas caught up, reads go to replicas, spread round robin
// over both; writes and statements that may write or lock go to the
// primary.
func TestWhereStatementsGo(t *testing.T) {
	c := connect(t)
	ctx := ctxT(t)
	id := keyOn(t, "s0")
	if _, err := c.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'where')", id); err != nil {
		t.Fatal(err)
	}
	servedBy(t, c, "s0", "primary")
	caughtUp(t, "s0")

	before := readCounts("s0")
	seen := map[string]bool{}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
		for range 4 {
			if got := nameOf(t, c, id, "", mode); got != "where" {
				t.Fatalf("mode %v: read %q", mode, got)
			}
			seen[servedBy(t, c, "s0", "replica").addr] = true
		}
	}
	for _, addr := range replicaAddrs("s0") {
		if !seen[addr] {
			t.Errorf("replica %s served none of 12 reads (round robin): served by %v", addr, seen)
		}
	}
	after := readCounts("s0")
	if after[0]-before[0] < 12 {
		t.Errorf("replica reads counted: %d, want at least 12", after[0]-before[0])
	}

	if _, err := c.Exec(ctx, "CREATE FUNCTION rt_touch(bigint) RETURNS int LANGUAGE sql AS 'SELECT 1'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { connect(t).Exec(ctxT(t), "DROP FUNCTION rt_touch(bigint)") })
	caughtUp(t, "s0")
	onPrimary := map[string]string{
		"FOR UPDATE":         "SELECT name FROM customers WHERE id = $1 FOR UPDATE",
		"FOR SHARE in a CTE": "WITH x AS (SELECT name FROM customers WHERE id = $1 FOR SHARE) SELECT name FROM x",
		"unknown function":   "SELECT name FROM customers WHERE id = $1 AND rt_touch(id) = 1",
		"sequence":           "SELECT name FROM customers WHERE id = $1 AND nextval('customers_seq_probe') > 0",
		"write in a CTE":     "WITH u AS (UPDATE customers SET name = name WHERE id = $1 RETURNING name) SELECT name FROM u",
	}
	if _, err := c.Exec(ctx, "CREATE SEQUENCE customers_seq_probe"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { connect(t).Exec(ctxT(t), "DROP SEQUENCE customers_seq_probe") })
	caughtUp(t, "s0")
	for what, sql := range onPrimary {
		var name string
		if err := c.QueryRow(ctx, sql, id).Scan(&name); err != nil || name != "where" {
			t.Errorf("%s: %q %v", what, name, err)
			continue
		}
		if r := lastRoute(t, c); len(r) != 1 || r[0].role != "primary" {
			t.Errorf("%s ran on %v, want the primary", what, r)
		}
	}

	// Inside a transaction that may write, everything reads the primary.
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := nameOf(t, tx.Conn(), id, ""); got != "where" {
		t.Errorf("read in a transaction: %q", got)
	}
	servedBy(t, tx.Conn(), "s0", "primary")
	tx.Rollback(ctx)
	// strong: the primary.
	if _, err := c.Exec(ctx, "SET sqlrouter.read_consistency = strong"); err != nil {
		t.Fatal(err)
	}
	nameOf(t, c, id, "")
	servedBy(t, c, "s0", "primary")
	if _, err := c.Exec(ctx, "RESET sqlrouter.read_consistency"); err != nil {
		t.Fatal(err)
	}
	nameOf(t, c, id, "")
	servedBy(t, c, "s0", "replica")
}

// readCounts returns the router's replica and primary read counters.
func readCounts(cluster string) [2]int64 {
	for _, st := range stack.Router.Stats() {
		if st.Cluster == cluster {
			return [2]int64{st.ReplicaReads, st.PrimaryReads}
		}
	}
	return [2]int64{}
}

// With WAL replay paused on every replica, a session reads its own write
// (from the primary), and so does another session given its token, by SET
// or at startup; an eventual read sees the stale replica. Once replay
// resumes, reads go back to the replicas.
func TestReadYourWritesWithReplayPaused(t *testing.T) {
	id := keyOn(t, "s0")
	a := connect(t)
	ctx := ctxT(t)
	caughtUp(t, "s0")
	resume := pauseReplay(t, "s0")

	if _, err := a.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'mine')", id); err != nil {
		t.Fatal(err)
	}
	token := a.PgConn().ParameterStatus("sqlrouter.ryw_token")
	if token == "" {
		t.Fatal("no sqlrouter.ryw_token ParameterStatus after a write")
	}
	var shown string
	if err := a.QueryRow(ctx, "SHOW sqlrouter.ryw_token").Scan(&shown); err != nil || shown != token {
		t.Errorf("SHOW sqlrouter.ryw_token = %q, %v; ParameterStatus said %q", shown, err, token)
	}
	tok, err := replication.DecodeToken(token)
	if err != nil || tok.Position("s0") == 0 || tok.Position("s1") != 0 {
		t.Errorf("token %q decodes to %+v, %v: want a position on s0 only", token, tok, err)
	}

	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		if got := nameOf(t, a, id, "", mode); got != "mine" {
			t.Errorf("the writer read %q (mode %v), want its own write", got, mode)
		}
		servedBy(t, a, "s0", "primary")
	}

	b := connect(t)
	if _, err := b.Exec(ctx, "SET sqlrouter.ryw_token = '"+token+"'"); err != nil {
		t.Fatal(err)
	}
	if got := nameOf(t, b, id, ""); got != "mine" {
		t.Errorf("a session given the token by SET read %q", got)
	}
	servedBy(t, b, "s0", "primary")

	s := connect(t, "options", "-c sqlrouter.ryw_token="+token)
	if got := nameOf(t, s, id, ""); got != "mine" {
		t.Errorf("a session given the token at startup read %q", got)
	}

	e := connect(t)
	if _, err := e.Exec(ctx, "SET sqlrouter.read_consistency = eventual"); err != nil {
		t.Fatal(err)
	}
	if got := nameOf(t, e, id, ""); got != "" {
		t.Errorf("an eventual read saw %q: replay is paused, it should read a stale replica", got)
	}
	servedBy(t, e, "s0", "replica")

	// Per statement, a comment chooses.
	f := connect(t)
	if got := nameOf(t, f, id, "/* sqlrouter.read_consistency=eventual */ "); got != "" {
		t.Errorf("eventual hint saw %q", got)
	}
	servedBy(t, f, "s0", "replica")
	if got := nameOf(t, f, id, "-- sqlrouter.read_consistency=strong\n"); got != "mine" {
		t.Errorf("strong hint read %q", got)
	}
	servedBy(t, f, "s0", "primary")

	// bounded: the replicas fell behind when the write landed.
	time.Sleep(600 * time.Millisecond)
	if _, err := f.Exec(ctx, "SET sqlrouter.read_consistency = bounded"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Exec(ctx, "SET sqlrouter.max_replica_lag = '200ms'"); err != nil {
		t.Fatal(err)
	}
	if got := nameOf(t, f, id, ""); got != "mine" {
		t.Errorf("bounded 200ms read %q with replicas 600ms behind", got)
	}
	servedBy(t, f, "s0", "primary")
	if _, err := f.Exec(ctx, "SET sqlrouter.max_replica_lag = '1min'"); err != nil {
		t.Fatal(err)
	}
	if got := nameOf(t, f, id, ""); got != "" {
		t.Errorf("bounded 1min read %q, want the stale replica", got)
	}
	servedBy(t, f, "s0", "replica")

	// A read-only transaction at eventual, sent as one pipelined batch.
	batch := &pgx.Batch{}
	batch.Queue("BEGIN READ ONLY")
	batch.Queue("SET LOCAL sqlrouter.read_consistency = eventual")
	batch.Queue("SELECT count(*) FROM customers WHERE id = $1", id)
	batch.Queue("SHOW sqlrouter.last_route")
	batch.Queue("COMMIT")
	var n int
	var where string
	br := a.SendBatch(ctx, batch)
	br.Exec()
	br.Exec()
	if err := br.QueryRow().Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := br.QueryRow().Scan(&where); err != nil {
		t.Fatal(err)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	if n != 0 || !slices.Contains(replicaAddrs("s0"), where[len("s0:replica:"):]) {
		t.Errorf("read-only batch at eventual: count %d on %s, want 0 on a replica", n, where)
	}
	// The same batch without READ ONLY reads the primary: its own write.
	batch = &pgx.Batch{}
	batch.Queue("BEGIN")
	batch.Queue("SELECT count(*) FROM customers WHERE id = $1", id)
	batch.Queue("COMMIT")
	br = a.SendBatch(ctx, batch)
	br.Exec()
	if err := br.QueryRow().Scan(&n); err != nil {
		t.Fatal(err)
	}
	br.Close()
	if n != 1 {
		t.Errorf("read-write transaction batch counted %d, want 1", n)
	}
	// The same as one simple Query.
	res, err := a.PgConn().Exec(ctx, fmt.Sprintf("BEGIN READ ONLY; SET LOCAL sqlrouter.read_consistency = eventual; SELECT count(*) FROM customers WHERE id = %d; COMMIT", id)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 || len(res[2].Rows) != 1 || string(res[2].Rows[0][0]) != "0" {
		t.Errorf("simple read-only flight at eventual: %v, want a count of 0 (stale replica)", res)
	}

	resume()
	caughtUp(t, "s0")
	if got := nameOf(t, a, id, ""); got != "mine" {
		t.Errorf("after resume the writer read %q", got)
	}
	servedBy(t, a, "s0", "replica")
	if got := nameOf(t, e, id, ""); got != "mine" {
		t.Errorf("after resume the eventual session read %q", got)
	}
}

// A malformed token is refused with 22023 and changes nothing; tokens
// merge, keeping the higher position of each cluster.
func TestTokens(t *testing.T) {
	ctx := ctxT(t)
	a := connect(t)
	if _, err := a.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'ta')", keyOn(t, "s0")); err != nil {
		t.Fatal(err)
	}
	ta := a.PgConn().ParameterStatus("sqlrouter.ryw_token")
	b := connect(t)
	if _, err := b.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'tb')", keyOn(t, "s1")); err != nil {
		t.Fatal(err)
	}
	tb := b.PgConn().ParameterStatus("sqlrouter.ryw_token")

	for _, bad := range []string{"garbage", "v9.AAAA", "v1.!!", "v1.", ta + "x"} {
		_, err := a.Exec(ctx, "SET sqlrouter.ryw_token = '"+bad+"'")
		if sqlstate(err) != "22023" {
			t.Errorf("SET sqlrouter.ryw_token = %q: %v, want 22023", bad, err)
		}
		var now string
		a.QueryRow(ctx, "SHOW sqlrouter.ryw_token").Scan(&now)
		if now != ta {
			t.Errorf("after the refused token %q the session's token is %q, want %q unchanged", bad, now, ta)
		}
	}
	cfg, _ := pgx.ParseConfig(stack.RouterDSN())
	cfg.RuntimeParams["options"] = "-c sqlrouter.ryw_token=garbage"
	if c, err := pgx.ConnectConfig(ctx, cfg); sqlstate(err) != "22023" {
		if c != nil {
			c.Close(ctx)
		}
		t.Errorf("startup with a malformed token: %v, want 22023", err)
	}

	m := connect(t)
	for _, tok := range []string{ta, tb, ta} {
		if _, err := m.Exec(ctx, "SET sqlrouter.ryw_token = '"+tok+"'"); err != nil {
			t.Fatal(err)
		}
	}
	var merged string
	m.QueryRow(ctx, "SHOW sqlrouter.ryw_token").Scan(&merged)
	got, err := replication.DecodeToken(merged)
	da, _ := replication.DecodeToken(ta)
	db, _ := replication.DecodeToken(tb)
	if err != nil || got.Position("s0") != da.Position("s0") || got.Position("s1") != db.Position("s1") {
		t.Errorf("merged token %+v (%v), want s0 from %+v and s1 from %+v", got, err, da, db)
	}
	if _, err := m.Exec(ctx, "RESET sqlrouter.ryw_token"); err != nil {
		t.Fatal(err)
	}
	m.QueryRow(ctx, "SHOW sqlrouter.ryw_token").Scan(&merged)
	if merged != "" {
		t.Errorf("after RESET the token is %q", merged)
	}
	// A bad level is refused too.
	if _, err := m.Exec(ctx, "SET sqlrouter.read_consistency = sometimes"); sqlstate(err) != "22023" {
		t.Errorf("bad level: %v, want 22023", err)
	}
}

// Temporary tables live in the session's backend on the primary: once a
// session has one, its reads stay on the primaries, until DISCARD TEMP.
func TestTemporaryTablesPinTheSession(t *testing.T) {
	ctx := ctxT(t)
	id := keyOn(t, "s0")
	c := connect(t)
	if _, err := c.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'temp')", id); err != nil {
		t.Fatal(err)
	}
	caughtUp(t, "s0")
	for _, create := range []string{"CREATE TEMP TABLE scratch (x int)", "SELECT 1 AS x INTO TEMP scratch", "CREATE TEMPORARY SEQUENCE scratch"} {
		nameOf(t, c, id, "")
		servedBy(t, c, "s0", "replica")
		if _, err := c.Exec(ctx, create); err != nil {
			t.Fatal(err)
		}
		var n int
		if !strings.Contains(create, "SEQUENCE") {
			if err := c.QueryRow(ctx, "SELECT count(*) FROM scratch").Scan(&n); err != nil {
				t.Errorf("%s, then a read of it: %v", create, err)
			}
		}
		nameOf(t, c, id, "")
		servedBy(t, c, "s0", "primary")
		if _, err := c.Exec(ctx, "DISCARD TEMP"); err != nil {
			t.Fatal(err)
		}
	}
	nameOf(t, c, id, "")
	servedBy(t, c, "s0", "replica")
}

package refsync_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/devstack"
	"github.com/sqlrouter/sqlrouter/localdeploy"
	"github.com/sqlrouter/sqlrouter/refsync"
	"github.com/sqlrouter/sqlrouter/router"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

var stack *devstack.Stack

func TestMain(m *testing.M) {
	os.Exit(devstack.RunTests(m, devstack.Options{Shards: 3, Replicas: localdeploy.None, NoExampleSchema: true}, &stack))
}

// mapDoc is a shard map over s0 and s1, with s2 absent ("") or in the
// given state, and extra appended to the tables.
func mapDoc(s2 string, extra string) []byte {
	info := stack.Info()
	var b strings.Builder
	b.WriteString("version: 1\nclusters:\n")
	for _, name := range []string{"s0", "s1", "s2"} {
		if name == "s2" && s2 == "" {
			continue
		}
		fmt.Fprintf(&b, "  %s:\n    primary: %s\n", name, info.Clusters[name].Primary)
		if name == "s2" {
			fmt.Fprintf(&b, "    state: %s\n", s2)
		}
	}
	fmt.Fprintf(&b, "coordinator: %s\ndefault_cluster: s0\n", info.Coordinator)
	b.WriteString("distributions:\n  by_account: {type: hash, key_type: bigint, shards: [s0, s1]}\n")
	if strings.Contains(extra, "by_branch") {
		b.WriteString("  by_branch: {type: list, key_type: text, lists: [{cluster: s2, values: [north]}]}\n")
	}
	b.WriteString("tables:\n  accounts: {distribution: by_account, key: id}\n  rates: {reference: true}\n")
	b.WriteString(extra)
	return []byte(b.String())
}

// apply stores a map and waits until the router runs it.
func apply(t *testing.T, doc []byte) {
	t.Helper()
	ctx := context.Background()
	rev, err := shardmap.Apply(ctx, stack.Etcd, stack.MapKey, doc)
	if err != nil {
		t.Fatal(err)
	}
	waitRevision(t, rev)
}

func waitRevision(t *testing.T, rev int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); stack.Router.Snapshot().Revision < rev; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the router did not switch to revision %d", rev)
		}
	}
}

func primary(t *testing.T, cluster string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), stack.Info().Clusters[cluster].Primary)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func rows(t *testing.T, c *pgx.Conn, sql string) string {
	t.Helper()
	rs, err := c.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rs.Close()
	var b strings.Builder
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, vals...)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func statements(cluster string) int64 {
	for _, s := range stack.Router.Stats() {
		if s.Cluster == cluster {
			return s.Statements
		}
	}
	return 0
}

// A cluster added to the map gets every write of reference tables at once
// but no read until `reference sync` has copied them (with writes going
// on meanwhile) and marked it active; then joins on it read its copy.
func TestAddClusterSyncsReferenceTables(t *testing.T) {
	ctx := context.Background()
	apply(t, mapDoc("", ""))
	rc, err := pgx.Connect(ctx, stack.RouterDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close(ctx)
	const ddl = "CREATE TABLE rates (id int PRIMARY KEY, name text NOT NULL, rate numeric(6,3))"
	var vals []string
	for i := 1; i <= 200; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'rate %d', %d.%03d)", i, i, i/7, i%1000))
	}
	for _, sql := range []string{ddl, "CREATE TABLE accounts (id bigint PRIMARY KEY, rate_id int)",
		"INSERT INTO rates VALUES " + strings.Join(vals, ", ")} {
		if _, err := rc.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// The documented first step: the schema on the new cluster.
	if _, err := primary(t, "s2").Exec(ctx, ddl); err != nil {
		t.Fatal(err)
	}
	apply(t, mapDoc("syncing", ""))

	// Writes reach the syncing cluster; reads never go there.
	before := statements("s2")
	if _, err := rc.Exec(ctx, "INSERT INTO rates VALUES (1001, 'during', 1.5)"); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, primary(t, "s2"), "SELECT name FROM rates WHERE id = 1001"); got != "during\n" {
		t.Fatalf("the write did not reach the syncing cluster: %q", got)
	}
	if statements("s2") == before {
		t.Fatal("the write was not counted on s2")
	}
	before = statements("s2")
	for _, sql := range []string{"SELECT count(*) FROM rates", "SELECT r.name FROM rates r JOIN accounts a ON a.rate_id = r.id",
		"SELECT * FROM rates WHERE id = 3", "SELECT k.id FROM rates k WHERE k.id IN (SELECT rate_id FROM accounts)"} {
		if _, err := rc.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	if n := statements("s2"); n != before {
		t.Fatalf("reads of reference tables ran %d statements on the syncing cluster", n-before)
	}

	// Writes go on while the tables are copied.
	var writes sync.WaitGroup
	var stop atomic.Bool
	var written atomic.Int64
	writes.Go(func() {
		w, err := pgx.Connect(ctx, stack.RouterDSN())
		if err != nil {
			t.Error(err)
			return
		}
		defer w.Close(ctx)
		for i := 2000; !stop.Load(); i++ {
			if _, err := w.Exec(ctx, "INSERT INTO rates VALUES ($1, 'concurrent', 0.5)", i); err != nil {
				t.Errorf("concurrent write: %v", err)
				return
			}
			if _, err := w.Exec(ctx, "UPDATE rates SET rate = rate + 1 WHERE id = $1", 1+i%200); err != nil {
				t.Errorf("concurrent update: %v", err)
				return
			}
			written.Add(1)
		}
	})
	for written.Load() < 5 {
		time.Sleep(time.Millisecond)
	}
	rep, err := refsync.Sync(ctx, refsync.Options{Etcd: stack.Etcd, Key: stack.MapKey, Cluster: "s2", LockTimeout: 200 * time.Millisecond, Pause: 50 * time.Millisecond,
		Connect: func(ctx context.Context, cluster, url string) (*pgconn.PgConn, error) {
			return router.ConnectBackend(ctx, router.BackendConfig{}, cluster, url)
		}})
	if err != nil {
		t.Fatal(err)
	}
	waitForMore := written.Load() + 5
	for written.Load() < waitForMore {
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	writes.Wait()
	if rep.Source != "s0" || rep.Rows["public.rates"] < 201 {
		t.Fatalf("report: %+v", rep)
	}
	const all = "SELECT * FROM rates ORDER BY id"
	want := rows(t, primary(t, "s0"), all)
	for _, c := range []string{"s1", "s2"} {
		if got := rows(t, primary(t, c), all); got != want {
			t.Fatalf("the copy on %s differs from s0's after the sync with concurrent writes", c)
		}
	}
	doc, rev, err := shardmap.Get(ctx, stack.Etcd, stack.MapKey)
	if err != nil {
		t.Fatal(err)
	}
	m, err := shardmap.Parse(doc)
	if err != nil || m.Clusters["s2"].Syncing || rev != rep.Revision {
		t.Fatalf("after the sync the map (revision %d, report %d) has s2 syncing=%v: %v", rev, rep.Revision, m.Clusters["s2"].Syncing, err)
	}
	waitRevision(t, rev)
	if _, err := refsync.Sync(ctx, refsync.Options{Etcd: stack.Etcd, Key: stack.MapKey, Cluster: "s2"}); err == nil || !strings.Contains(err.Error(), "not syncing") {
		t.Fatalf("a second sync: %v, want not syncing", err)
	}

	// Active, s2 may hold distributed rows, joined to its own copy.
	apply(t, mapDoc("active", "  branches: {distribution: by_branch, key: region}\n"))
	for _, sql := range []string{"CREATE TABLE branches (region text, rate_id int)", "INSERT INTO branches (region, rate_id) VALUES ('north', 7), ('north', 1001), ('north', 2000)"} {
		if _, err := rc.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	before = statements("s2")
	got := rows(t, rc, "SELECT b.rate_id, r.name, r.rate FROM branches b JOIN rates r ON r.id = b.rate_id ORDER BY b.rate_id")
	want = rows(t, primary(t, "s0"), "SELECT id, name, rate FROM rates WHERE id IN (7, 1001, 2000) ORDER BY id")
	if got != want || statements("s2") == before {
		t.Fatalf("join on s2 with its copy:\n%s\nwant (s0's copy):\n%s", got, want)
	}
}

// Package writetest tests writes through the router end to end: writes
// that reach several clusters (fan-out UPDATE and DELETE, INSERT ...
// SELECT, ON CONFLICT, split multi-row inserts), writes to reference
// tables under contention, DDL on every cluster that holds a table, and
// globally unique generated ids. Three clusters without replicas, a
// coordinator, one stack for the package; every test asserts what each
// cluster's primary holds afterwards.
package writetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/devstack"
	"github.com/sqlrouter/sqlrouter/localdeploy"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

var stack *devstack.Stack

func TestMain(m *testing.M) {
	doc, err := os.ReadFile("testdata/shardmap.yaml")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(devstack.RunTests(m, devstack.Options{Shards: 3, Replicas: localdeploy.None, ShardMap: doc}, &stack))
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// connect opens a router connection in a pgx query mode.
func connect(t testing.TB, mode ...pgx.QueryExecMode) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(stack.RouterDSN())
	if err != nil {
		t.Fatal(err)
	}
	if len(mode) > 0 {
		cfg.DefaultQueryExecMode = mode[0]
	}
	c, err := pgx.ConnectConfig(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("connect to router: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// primary opens a direct connection to a cluster's primary.
func primary(t testing.TB, cluster string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctxT(t), stack.Info().Clusters[cluster].Primary)
	if err != nil {
		t.Fatalf("connect to %s: %v", cluster, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// clusters lists the clusters, sorted.
func clusters() []string {
	var out []string
	for name := range stack.Info().Clusters {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func mustExec(t testing.TB, c *pgx.Conn, sql string, args ...any) pgconn.CommandTag {
	t.Helper()
	tag, err := c.Exec(ctxT(t), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return tag
}

// setup runs statements through the router (DDL creates tables on every
// cluster that holds them).
func setup(t testing.TB, stmts ...string) {
	t.Helper()
	c := connect(t)
	for _, s := range stmts {
		mustExec(t, c, s)
	}
}

func sqlstate(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// ownerOf is the cluster a distribution places a key on.
func ownerOf(t testing.TB, dist string, key shardmap.Key) string {
	t.Helper()
	d := stack.Router.Snapshot().Map.Distributions[dist]
	c, err := d.ClusterFor(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// accountOn returns the first id from start that by_account places on
// cluster.
func accountOn(t testing.TB, cluster string, start int64) int64 {
	t.Helper()
	for id := start; id < start+100000; id++ {
		if ownerOf(t, "by_account", shardmap.IntKey(id)) == cluster {
			return id
		}
	}
	t.Fatalf("no account id for %s", cluster)
	return 0
}

// rowsOn returns a query's rows, as text, on one cluster's primary.
func rowsOn(t testing.TB, cluster, sql string, args ...any) []string {
	t.Helper()
	rows, err := primary(t, cluster).Query(ctxT(t), sql, args...)
	if err != nil {
		t.Fatalf("%s on %s: %v", sql, cluster, err)
	}
	return textRows(t, rows)
}

// rowsVia returns a query's rows, as text, through a connection.
func rowsVia(t testing.TB, c *pgx.Conn, sql string, args ...any) []string {
	t.Helper()
	rows, err := c.Query(ctxT(t), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return textRows(t, rows)
}

func textRows(t testing.TB, rows pgx.Rows) []string {
	t.Helper()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// countOn counts a table's rows matching a condition on one primary.
func countOn(t testing.TB, cluster, table, where string, args ...any) int {
	t.Helper()
	var n int
	if where == "" {
		where = "true"
	}
	if err := primary(t, cluster).QueryRow(ctxT(t), "SELECT count(*) FROM "+table+" WHERE "+where, args...).Scan(&n); err != nil {
		t.Fatalf("count %s on %s: %v", table, cluster, err)
	}
	return n
}

// holders lists the clusters where a table exists.
func holders(t testing.TB, table string) []string {
	t.Helper()
	var out []string
	for _, cl := range clusters() {
		var ok bool
		if err := primary(t, cl).QueryRow(ctxT(t), "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		if ok {
			out = append(out, cl)
		}
	}
	return out
}

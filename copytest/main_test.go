// Package copytest tests COPY through the router against tables of the
// shard map: rows split by key into the clusters' COPYs (text, csv,
// binary, psql's \copy), atomically; PostgreSQL's own errors with the
// client's line numbers; COPY TO STDOUT gathered from the clusters; a
// pg_dump data-only restore. One shared stack (two clusters, no replicas,
// a coordinator) and one plain PostgreSQL, the reference, that gets the
// same input and whose answers the router's must equal.
package copytest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/devstack"
	"github.com/sqlrouter/sqlrouter/localdeploy"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

var (
	stack     *devstack.Stack
	reference *localdeploy.Postgres
	binaries  localdeploy.Binaries
)

// shardMap places the test tables: bigint and text hash keys, a range key
// with a gap (keys from 2000 up belong to no cluster), a reference table.
const shardMap = `version: 1
default_cluster: s0
distributions:
  by_id:   {type: hash, key_type: bigint, shards: [s0, s1]}
  by_code: {type: hash, key_type: text, shards: [s0, s1]}
  by_slot:
    type: range
    key_type: int
    ranges:
      - {cluster: s0, from: null, to: 1000}
      - {cluster: s1, from: 1000, to: 2000}
tables:
  items:       {distribution: by_id, key: id}
  errs:        {distribution: by_id, key: id}
  bulk:        {distribution: by_id, key: id}
  outs:        {distribution: by_id, key: id}
  fuzz:        {distribution: by_id, key: id}
  uniq:        {distribution: by_id, key: id}
  notes:       {distribution: by_code, key: code}
  slots:       {distribution: by_slot, key: slot}
  kinds:       {reference: true}
  dump_items:  {distribution: by_id, key: id}
  dump_notes:  {distribution: by_code, key: code}
  dump_kinds:  {reference: true}
`

// schema is created through the router and on the reference server.
var schema = []string{
	`CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int, price numeric(10,2), tags text[], seen timestamptz)`,
	`CREATE TABLE errs (id bigint PRIMARY KEY, name text, qty int)`,
	`CREATE TABLE fuzz (id bigint PRIMARY KEY, name text, qty int)`,
	`CREATE TABLE uniq (id bigint, v int, PRIMARY KEY (id) DEFERRABLE INITIALLY DEFERRED)`,
	`CREATE TABLE bulk (id bigint PRIMARY KEY, payload text)`,
	`CREATE TABLE outs (id bigint PRIMARY KEY, name text, qty int, price numeric(10,2), tags text[], seen timestamptz)`,
	`CREATE TABLE notes (body text, code text PRIMARY KEY, n int)`,
	`CREATE TABLE slots (slot int NOT NULL, v text)`,
	`CREATE TABLE kinds (k int PRIMARY KEY, label text)`,
	`CREATE TABLE dump_items (id bigint PRIMARY KEY, name text, qty int, price numeric(10,2), tags text[], seen timestamptz, doc jsonb, raw bytea)`,
	`CREATE TABLE dump_notes (code text PRIMARY KEY, body text)`,
	`CREATE TABLE dump_kinds (k int PRIMARY KEY, label text)`,
}

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	var err error
	binaries, err = localdeploy.FindBinaries()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "sqlrouter-copytest-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	reference, err = localdeploy.StartPostgres(ctx, binaries, localdeploy.PostgresOptions{DataDir: filepath.Join(dir, "reference"), Name: "reference"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: reference server:", err)
		return 1
	}
	defer reference.Stop(context.Background())
	return devstack.RunTests(m, devstack.Options{Shards: 2, Replicas: localdeploy.None, ShardMap: []byte(shardMap)}, &stack)
}

var (
	schemaOnce sync.Once
	schemaErr  error
)

// ready creates the schema once, on the router and on the reference.
func ready(t testing.TB) {
	t.Helper()
	schemaOnce.Do(func() {
		ctx := context.Background()
		for _, dsn := range []string{stack.RouterDSN(), reference.DSN("app")} {
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				schemaErr = err
				return
			}
			for _, sql := range schema {
				if _, err := c.Exec(ctx, sql); err != nil {
					schemaErr = fmt.Errorf("%s: %w", sql, err)
				}
			}
			c.Close(ctx)
		}
	})
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connectTo opens a pgx connection, closed when the test ends.
func connectTo(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctxT(t), dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func router(t testing.TB) *pgx.Conn { ready(t); return connectTo(t, stack.RouterDSN()) }
func ref(t testing.TB) *pgx.Conn    { ready(t); return connectTo(t, reference.DSN("app")) }

var (
	primariesMu sync.Mutex
	primaries   = map[testing.TB]map[string]*pgx.Conn{}
)

// primary returns a direct connection to a cluster's primary, one per
// test and cluster, closed when the test ends.
func primary(t testing.TB, cluster string) *pgx.Conn {
	t.Helper()
	primariesMu.Lock()
	defer primariesMu.Unlock()
	m := primaries[t]
	if m == nil {
		m = map[string]*pgx.Conn{}
		primaries[t] = m
		t.Cleanup(func() {
			primariesMu.Lock()
			defer primariesMu.Unlock()
			delete(primaries, t)
		})
	}
	if c := m[cluster]; c != nil {
		return c
	}
	c := connectTo(t, stack.Info().Clusters[cluster].Primary)
	m[cluster] = c
	return c
}

// clusters lists the deployment's cluster names.
func clusters() []string {
	var out []string
	for _, c := range stack.Deployment.Clusters {
		out = append(out, c.Name)
	}
	return out
}

// owner is the cluster the shard map gives a key of a distribution.
func owner(t testing.TB, dist string, k shardmap.Key) string {
	t.Helper()
	c, err := stack.Router.Snapshot().Map.Distributions[dist].ClusterFor(k)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sqlExec runs statements on a connection.
func sqlExec(t testing.TB, c *pgx.Conn, sqls ...string) {
	t.Helper()
	for _, sql := range sqls {
		if _, err := c.Exec(ctxT(t), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// copyIn runs COPY FROM STDIN with raw data on a connection.
func copyIn(t testing.TB, c *pgconn.PgConn, sql string, data []byte) (pgconn.CommandTag, error) {
	t.Helper()
	return c.CopyFrom(ctxT(t), bytesReader(data), sql)
}

// copyOut runs COPY TO STDOUT and returns the data.
func copyOut(t testing.TB, c *pgconn.PgConn, sql string) ([]byte, pgconn.CommandTag) {
	t.Helper()
	var buf writeBuffer
	tag, err := c.CopyTo(ctxT(t), &buf, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return buf.b, tag
}

// rowsOf reads a query's rows as text, for comparisons.
func rowsOf(t testing.TB, c *pgx.Conn, sql string) []string {
	t.Helper()
	rr := c.PgConn().ExecParams(ctxT(t), sql, nil, nil, nil, nil)
	var out []string
	for rr.NextRow() {
		line := ""
		for i, v := range rr.Values() {
			if i > 0 {
				line += "|"
			}
			if v == nil {
				line += "∅"
			} else {
				line += string(v)
			}
		}
		out = append(out, line)
	}
	if _, err := rr.Close(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// countOn counts a table's rows on one cluster's primary.
func countOn(t testing.TB, cluster, table, where string) int {
	t.Helper()
	var n int
	sql := "SELECT count(*) FROM " + table
	if where != "" {
		sql += " WHERE " + where
	}
	if err := primary(t, cluster).QueryRow(ctxT(t), sql).Scan(&n); err != nil {
		t.Fatalf("%s on %s: %v", sql, cluster, err)
	}
	return n
}

func keyOf(id int64) shardmap.Key { return shardmap.IntKey(id) }

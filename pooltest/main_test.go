// Package pooltest tests transaction pooling end to end: many clients
// share a few backend connections, and nothing one client does to its
// session reaches another. The router runs with 4 connections per server.
package pooltest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/devstack"
	"github.com/sqlrouter/sqlrouter/localdeploy"
	"github.com/sqlrouter/sqlrouter/pool"
	"github.com/sqlrouter/sqlrouter/router"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// connsPerNode is the router's cap in this package.
const connsPerNode = 4

var stack *devstack.Stack

func TestMain(m *testing.M) {
	// Plain text and trust: the raw clients of the memory benchmark log in
	// without a client library.
	os.Exit(devstack.RunTests(m, devstack.Options{Shards: 2, Replicas: localdeploy.None, PlainText: true, Trust: true, Router: func(c *router.Config) {
		c.Pool.MaxConnsPerNode = connsPerNode
		c.Pool.AcquireTimeout = time.Second
	}}, &stack))
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connect opens a router connection; params are extra startup
// parameters, in pairs.
func connect(t testing.TB, params ...string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(stack.RouterDSN())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(params); i += 2 {
		cfg.RuntimeParams[params[i]] = params[i+1]
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
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func sqlstate(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

var keySeq atomic.Int64

func init() { keySeq.Store(time.Now().UnixNano() % 1_000_000_000 * 1000) }

// keyOn returns a fresh customer id the shard map places on cluster.
func keyOn(t testing.TB, cluster string) int64 {
	t.Helper()
	d := stack.Router.Snapshot().Map.Distributions["by_customer"]
	for range 10000 {
		k := keySeq.Add(1)
		if c, err := d.ClusterFor(shardmap.IntKey(k)); err == nil && c == cluster {
			return k
		}
	}
	t.Fatalf("no key for cluster %s", cluster)
	return 0
}

// poolOf returns the router's pool of a cluster's primary.
func poolOf(t testing.TB, cluster string) pool.NodeStats {
	t.Helper()
	url := stack.Router.Snapshot().Map.Clusters[cluster].Primary
	for _, st := range stack.Router.PoolStats() {
		if st.URL == url {
			return st
		}
	}
	return pool.NodeStats{URL: url}
}

// routerBackends counts the router's sessions on a cluster's primary.
func routerBackends(t testing.TB, cluster string) int {
	t.Helper()
	var n int
	c, err := pgx.Connect(ctxT(t), stack.Info().Clusters[cluster].Primary)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	q := "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name NOT LIKE 'sqlrouter-%'"
	if err := c.QueryRow(ctxT(t), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// eventually retries cond for a few seconds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in time", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func showSetting(t testing.TB, c *pgx.Conn, name string) string {
	t.Helper()
	var v string
	if err := c.QueryRow(ctxT(t), fmt.Sprintf("SELECT current_setting('%s')", name)).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

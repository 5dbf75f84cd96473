// Package replicatest tests reads on streaming replicas through the
// router: where each statement goes at each consistency level, read your
// writes with replay paused on the replicas, the token that carries a
// session's position to another, and reads that survive a replica killed
// under load. Two clusters with two replicas each, one stack for the
// package.
package replicatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/devstack"
	"github.com/sqlrouter/sqlrouter/router"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

var stack *devstack.Stack

func TestMain(m *testing.M) {
	os.Exit(devstack.RunTests(m, devstack.Options{Shards: 2, Replicas: 2, Router: func(c *router.Config) {
		c.Replication.PollInterval = 100 * time.Millisecond
	}}, &stack))
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connect opens a router connection; params are extra startup parameters.
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

// direct opens a connection straight to a node.
func direct(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctxT(t), dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", dsn, err)
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

// route is one node of SHOW sqlrouter.last_route.
type route struct{ cluster, role, addr string }

// lastRoute reads where the session's previous statement ran.
func lastRoute(t testing.TB, c *pgx.Conn) []route {
	t.Helper()
	var s string
	if err := c.QueryRow(ctxT(t), "SHOW sqlrouter.last_route").Scan(&s); err != nil {
		t.Fatal(err)
	}
	var out []route
	for _, part := range strings.Split(s, ",") {
		f := strings.SplitN(part, ":", 3)
		if len(f) != 3 {
			t.Fatalf("last_route %q: want cluster:role:host:port", s)
		}
		out = append(out, route{f[0], f[1], f[2]})
	}
	return out
}

// servedBy asserts the previous statement ran on one node of the role.
func servedBy(t testing.TB, c *pgx.Conn, cluster, role string) route {
	t.Helper()
	r := lastRoute(t, c)
	if len(r) != 1 || r[0].cluster != cluster || r[0].role != role {
		t.Errorf("statement served by %v, want one %s of %s", r, role, cluster)
		return route{}
	}
	return r[0]
}

// nameOf reads a customer's name through c ("" when there is no row).
func nameOf(t testing.TB, c *pgx.Conn, id int64, sqlPrefix string, mode ...any) string {
	t.Helper()
	var name string
	args := append(mode, id)
	err := c.QueryRow(ctxT(t), sqlPrefix+"SELECT name FROM customers WHERE id = $1", args...).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return ""
	}
	if err != nil {
		t.Fatalf("read of %d: %v", id, err)
	}
	return name
}

// replicaDSNs lists a cluster's replicas.
func replicaDSNs(cluster string) []string { return stack.Info().Clusters[cluster].Replicas }

// replicaAddrs lists a cluster's replicas as host:port.
func replicaAddrs(cluster string) []string {
	var out []string
	for _, r := range stack.Deployment.Cluster(cluster).Replicas {
		out = append(out, fmt.Sprintf("127.0.0.1:%d", r.Port()))
	}
	return out
}

// pauseReplay stops WAL replay on every replica of cluster until the test
// ends (or resume is called).
func pauseReplay(t testing.TB, cluster string) (resume func()) {
	t.Helper()
	var conns []*pgx.Conn
	for _, dsn := range replicaDSNs(cluster) {
		c := direct(t, dsn)
		if _, err := c.Exec(ctxT(t), "SELECT pg_wal_replay_pause()"); err != nil {
			t.Fatal(err)
		}
		for {
			var state string
			if err := c.QueryRow(ctxT(t), "SELECT pg_get_wal_replay_pause_state()").Scan(&state); err != nil {
				t.Fatal(err)
			}
			if state == "paused" {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		conns = append(conns, c)
	}
	done := false
	resume = func() {
		if done {
			return
		}
		done = true
		for _, c := range conns {
			if _, err := c.Exec(context.Background(), "SELECT pg_wal_replay_resume()"); err != nil {
				t.Errorf("resume replay: %v", err)
			}
		}
	}
	t.Cleanup(resume)
	return resume
}

// caughtUp waits until every replica of cluster has replayed its
// primary's WAL as of now, and the router has seen it.
func caughtUp(t testing.TB, cluster string) {
	t.Helper()
	ctx := ctxT(t)
	var target string
	if err := direct(t, stack.Info().Clusters[cluster].Primary).QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&target); err != nil {
		t.Fatal(err)
	}
	for _, dsn := range replicaDSNs(cluster) {
		r := direct(t, dsn)
		for {
			var done bool
			if err := r.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", target).Scan(&done); err != nil {
				t.Fatal(err)
			}
			if done {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("a replica of %s did not replay %s", cluster, target)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	// The router polls every 100 ms.
	time.Sleep(300 * time.Millisecond)
}

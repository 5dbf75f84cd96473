package e2e

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// sqlstate returns the SQLSTATE of a server error, or "" when err is not
// one.
func sqlstate(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// ownerOf is the cluster the current shard map gives a customer id.
func ownerOf(t testing.TB, id int64) string {
	t.Helper()
	d := stack.Router.Snapshot().Map.Distributions["by_customer"]
	c, err := d.ClusterFor(shardmap.IntKey(id))
	if err != nil {
		t.Fatal(err)
	}
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

var keySeq atomic.Int64

func init() { keySeq.Store(time.Now().UnixNano() % 1_000_000_000 * 1000) }

// newKey returns a customer id no other test uses.
func newKey() int64 { return keySeq.Add(1) }

// keyOn returns a fresh customer id that the shard map places on cluster.
func keyOn(t testing.TB, cluster string) int64 {
	t.Helper()
	for range 10000 {
		k := newKey()
		if ownerOf(t, k) == cluster {
			return k
		}
	}
	t.Fatalf("no key found for cluster %s", cluster)
	return 0
}

// countOn counts customers with an id on one cluster's primary, directly.
func countOn(t testing.TB, cluster string, table, keyCol string, id int64) int {
	t.Helper()
	c := primary(t, cluster)
	var n int
	if err := c.QueryRow(ctxT(t), fmt.Sprintf("SELECT count(*) FROM %s WHERE %s = $1", table, keyCol), id).Scan(&n); err != nil {
		t.Fatalf("count on %s: %v", cluster, err)
	}
	return n
}

// assertPlacedOn checks that the row with id is on exactly its cluster.
func assertPlacedOn(t testing.TB, table, keyCol string, id int64, want string) {
	t.Helper()
	for _, cl := range clusters() {
		n := countOn(t, cl, table, keyCol, id)
		switch {
		case cl == want && n != 1:
			t.Errorf("%s %s=%d: %d rows on %s, want 1", table, keyCol, id, n, cl)
		case cl != want && n != 0:
			t.Errorf("%s %s=%d: %d rows on %s, want 0 (it belongs on %s)", table, keyCol, id, n, cl, want)
		}
	}
}

// replicasCaughtUp waits until every replica has replayed its primary's
// WAL as of now: rows planted directly on primaries are then visible to
// reads the router sends to replicas.
func replicasCaughtUp(t testing.TB) {
	t.Helper()
	ctx := ctxT(t)
	for name, cl := range stack.Info().Clusters {
		var target string
		if err := primary(t, name).QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&target); err != nil {
			t.Fatal(err)
		}
		for _, dsn := range cl.Replicas {
			r, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatalf("connect to a replica of %s: %v", name, err)
			}
			for {
				var done bool
				if err := r.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", target).Scan(&done); err != nil {
					r.Close(ctx)
					t.Fatalf("replica of %s: %v", name, err)
				}
				if done {
					break
				}
				select {
				case <-ctx.Done():
					r.Close(ctx)
					t.Fatalf("a replica of %s did not replay %s in time", name, target)
				case <-time.After(5 * time.Millisecond):
				}
			}
			r.Close(ctx)
		}
	}
}

package crashtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// commitCommands counts, on each primary, the PREPARE TRANSACTION and
// plain COMMIT commands pg_stat_statements saw since its last reset.
func commitCommands(ctx context.Context, t *testing.T) (prepares, commits map[string]int64) {
	t.Helper()
	prepares, commits = map[string]int64{}, map[string]int64{}
	onPrimaries(ctx, t, func(cluster string, conn *pgx.Conn) {
		var p, n int64
		err := conn.QueryRow(ctx, `SELECT coalesce(sum(calls) FILTER (WHERE query LIKE 'PREPARE TRANSACTION%'), 0),
			coalesce(sum(calls) FILTER (WHERE upper(query) = 'COMMIT'), 0) FROM pg_stat_statements`).Scan(&p, &n)
		if err != nil {
			t.Fatal(err)
		}
		prepares[cluster], commits[cluster] = p, n
	})
	return prepares, commits
}

// resetStatements empties pg_stat_statements on every primary.
func resetStatements(ctx context.Context, t *testing.T) {
	t.Helper()
	onPrimaries(ctx, t, func(_ string, c *pgx.Conn) { mustExec(ctx, t, c, "SELECT pg_stat_statements_reset()") })
}

// decisionWrites returns the number of decisions written under prefix
// since etcd revision rev: it watches from rev+1 and stops at a marker key
// it writes next to the prefix, so that it has seen every event before
// the marker.
func decisionWrites(ctx context.Context, t *testing.T, prefix string, rev int64) int {
	t.Helper()
	parent := strings.TrimSuffix(strings.TrimSuffix(prefix, "/"), "txn") // the watched range holds the prefix and the marker
	marker := parent + "marker"
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	watch := etcdCli.Watch(wctx, parent, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	if _, err := etcdCli.Put(ctx, marker, "x"); err != nil {
		t.Fatal(err)
	}
	n := 0
	for resp := range watch {
		for _, ev := range resp.Events {
			key := string(ev.Kv.Key)
			if key == marker {
				return n
			}
			if ev.Type == clientv3.EventTypePut && strings.HasPrefix(key, prefix) {
				n++
			}
		}
	}
	t.Fatalf("watch of %s ended before the marker: %v", parent, wctx.Err())
	return 0
}

// A transaction that writes on one cluster commits there with a plain
// COMMIT: no PREPARE TRANSACTION reaches any primary and no decision is
// written to etcd, whether it is an explicit block, a block that also
// read another cluster, or several statements in one query. The last
// case, writing on both clusters, shows that the counters would see a
// two-phase commit.
func TestOneClusterTransactionCommitsPlainly(t *testing.T) {
	const prefix = "/crashtest/plain/txn/"
	r := startRouter(t, routerOptions{ID: "plain", DecisionPrefix: prefix})
	it := createItems(t, r)
	ctx := testContext(t, time.Minute)
	a0, a1, b0 := it.on["s0"][0], it.on["s0"][1], it.on["s1"][0]
	for _, tc := range []struct {
		name     string
		sql      []string
		prepares map[string]int64
		commits  map[string]int64
		decided  int
	}{
		{"block on s0", []string{"BEGIN", fmt.Sprintf("UPDATE items SET v = v + 1 WHERE id = %d", a0), fmt.Sprintf("UPDATE items SET v = v + 1 WHERE id = %d", a1), "COMMIT"},
			map[string]int64{"s0": 0, "s1": 0}, map[string]int64{"s0": 1, "s1": 0}, 0},
		{"block writing s0, reading s1", []string{"BEGIN", fmt.Sprintf("SELECT v FROM items WHERE id = %d", b0), fmt.Sprintf("UPDATE items SET v = v + 1 WHERE id = %d", a0), "COMMIT"},
			map[string]int64{"s0": 0, "s1": 0}, map[string]int64{"s0": 1, "s1": 1}, 0},
		{"query string on s0", []string{fmt.Sprintf("UPDATE items SET v = v + 1 WHERE id = %d; UPDATE items SET v = v + 1 WHERE id = %d", a0, a1)},
			map[string]int64{"s0": 0, "s1": 0}, map[string]int64{"s0": 0, "s1": 0}, 0},
		{"block on both", []string{"BEGIN", fmt.Sprintf("UPDATE items SET v = v + 1 WHERE id = %d", a0), fmt.Sprintf("UPDATE items SET v = v + 1 WHERE id = %d", b0), "COMMIT"},
			map[string]int64{"s0": 1, "s1": 1}, map[string]int64{"s0": 0, "s1": 0}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := connectRouter(t, r)
			resetStatements(ctx, t)
			start, err := etcdCli.Get(ctx, "/crashtest/plain/")
			if err != nil {
				t.Fatal(err)
			}
			for _, sql := range tc.sql {
				if _, err := c.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
			prepares, commits := commitCommands(ctx, t)
			for _, cl := range []string{"s0", "s1"} {
				if prepares[cl] != tc.prepares[cl] || commits[cl] != tc.commits[cl] {
					t.Errorf("%s: %d PREPARE TRANSACTION and %d plain COMMIT, want %d and %d", cl, prepares[cl], commits[cl], tc.prepares[cl], tc.commits[cl])
				}
			}
			if n := decisionWrites(ctx, t, prefix, start.Header.Revision); n != tc.decided {
				t.Errorf("%d decisions written to etcd, want %d", n, tc.decided)
			}
		})
	}
}

package crashtest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// items is a small distributed table for the tests of transaction
// semantics: ids 1..20 with v = 0, and where each one lives.
type items struct {
	on map[string][]int64 // cluster -> ids
}

// createItems (re)creates the items table through the router.
func createItems(t testing.TB, r *routerProc) items {
	t.Helper()
	ctx := testContext(t, time.Minute)
	execAll(ctx, t, connectRouter(t, r),
		"DROP TABLE IF EXISTS items",
		"CREATE TABLE items (id bigint PRIMARY KEY, v bigint NOT NULL)",
		"INSERT INTO items (id, v) VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0), (9, 0), (10, 0), "+
			"(11, 0), (12, 0), (13, 0), (14, 0), (15, 0), (16, 0), (17, 0), (18, 0), (19, 0), (20, 0)")
	waitReplicas(ctx, t, "SELECT count(*) FROM items", 20)
	it := items{on: map[string][]int64{}}
	for _, cl := range dep.Clusters {
		it.on[cl.Name] = queryInts(ctx, t, cl.Primary.DSN("app"), "SELECT id FROM items ORDER BY id")
		if len(it.on[cl.Name]) < 2 {
			t.Fatalf("only %d items on %s", len(it.on[cl.Name]), cl.Name)
		}
	}
	return it
}

// waitReplicas polls every replica until query (a count) returns, summed
// over the replicas, want: reads that a replica serves then see what the
// test set up through another session.
func waitReplicas(ctx context.Context, t testing.TB, query string, want int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got int64
		for _, c := range dep.Clusters {
			for _, r := range c.Replicas {
				conn, err := pgx.Connect(ctx, r.DSN("app"))
				if err != nil {
					t.Fatal(err)
				}
				var n int64
				if err := conn.QueryRow(ctx, query).Scan(&n); err == nil {
					got += n
				}
				conn.Close(ctx)
			}
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas answer %d to %s, want %d", got, query, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clusterOf returns the cluster that holds item id.
func (it items) clusterOf(id int64) string {
	for cl, ids := range it.on {
		if slices.Contains(ids, id) {
			return cl
		}
	}
	return ""
}

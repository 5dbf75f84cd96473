package e2e

import (
	"context"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5"
)

// loadBigOrders puts n orders, each on the cluster that owns its customer,
// straight into the primaries (fast), and returns their customer id.
func loadBigOrders(t testing.TB, n int) int64 {
	t.Helper()
	ctx := context.Background()
	base := newKey() * 1000
	perCluster := map[string][][]any{}
	for i := range n {
		cust := base + int64(i%500)
		owner := ownerOf(t, cust)
		perCluster[owner] = append(perCluster[owner], []any{cust, int64(i), float64(i%977) + 0.25, "bulk"})
	}
	for cl, rows := range perCluster {
		conn := primary(t, cl)
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"orders"}, []string{"customer_id", "id", "amount", "status"}, pgx.CopyFromRows(rows)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for cl := range perCluster {
			primary(t, cl).Exec(context.Background(), "DELETE FROM orders WHERE status = 'bulk'")
		}
	})
	replicasCaughtUp(t)
	return base
}

// The k-way merge streams: ordering 100,000 rows from two clusters through
// the router allocates a small fraction of the rows' size, because the
// router holds one row per cluster, not the result.
func TestMergeStreamsWithBoundedMemory(t *testing.T) {
	loadBigOrders(t, 100000)
	c := connect(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rr := c.PgConn().ExecParams(context.Background(), "SELECT customer_id, id, amount, status FROM orders WHERE status = 'bulk' ORDER BY amount DESC, id", nil, nil, nil, nil)
	rows, bytes := 0, 0
	for rr.NextRow() {
		rows++
		for _, v := range rr.Values() {
			bytes += len(v)
		}
	}
	if _, err := rr.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d rows, %d bytes of values, %d bytes allocated in the process", rows, bytes, alloc)
	if rows != 100000 {
		t.Fatalf("%d rows, want 100000", rows)
	}
	if alloc > uint64(bytes)/4 {
		t.Errorf("merging allocated %d bytes for %d bytes of rows: the merge does not stream", alloc, bytes)
	}
}

// BenchmarkFanoutOrderByLimit measures ORDER BY ... LIMIT 10 over two
// clusters: each cluster returns 10 rows and the router holds one per
// cluster, so allocation does not grow with the table.
func BenchmarkFanoutOrderByLimit(b *testing.B) {
	loadBigOrders(b, 50000)
	c := connect(b)
	b.ReportAllocs()
	for b.Loop() {
		rows, err := c.Query(context.Background(), "SELECT customer_id, id, amount FROM orders WHERE status = 'bulk' ORDER BY amount DESC, id LIMIT 10")
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
		}
		if rows.Err() != nil {
			b.Fatal(rows.Err())
		}
	}
}

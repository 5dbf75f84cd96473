package copytest

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// BenchmarkCopyThroughRouter copies the same rows (1M by default;
// SQLROUTER_COPY_BENCH_ROWS changes it) into the bulk table of two
// clusters through the router, and straight into the primaries split by
// hand (both clusters at once), and reports both throughputs and their
// ratio (issue 6 asks for at least 0.5).
func BenchmarkCopyThroughRouter(b *testing.B) {
	ready(b)
	rows := int64(1_000_000)
	if v, err := strconv.ParseInt(os.Getenv("SQLROUTER_COPY_BENCH_ROWS"), 10, 64); err == nil && v > 0 {
		rows = v
	}
	ctx := context.Background()
	var all []byte
	parts := map[string][]byte{}
	d := stack.Router.Snapshot().Map.Distributions["by_id"]
	for i := range rows {
		start := len(all)
		all = bulkRow(i, all)
		cl, err := d.ClusterFor(shardmap.IntKey(10_000_000 + i))
		if err != nil {
			b.Fatal(err)
		}
		parts[cl] = append(parts[cl], all[start:]...)
	}
	rc, err := pgconn.Connect(ctx, stack.RouterDSN())
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close(ctx)
	direct := map[string]*pgconn.PgConn{}
	for cl := range parts {
		c, err := pgconn.Connect(ctx, stack.Info().Clusters[cl].Primary)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close(ctx)
		direct[cl] = c
	}
	truncate := func() {
		for _, c := range direct {
			if _, err := c.Exec(ctx, "TRUNCATE bulk").ReadAll(); err != nil {
				b.Fatal(err)
			}
		}
	}
	var viaRouter, byHand time.Duration
	b.SetBytes(int64(len(all)))
	for b.Loop() {
		truncate()
		start := time.Now()
		if _, err := rc.CopyFrom(ctx, bytes.NewReader(all), "COPY bulk FROM STDIN"); err != nil {
			b.Fatal(err)
		}
		viaRouter += time.Since(start)
		truncate()
		start = time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, len(direct))
		for cl, c := range direct {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.CopyFrom(ctx, bytes.NewReader(parts[cl]), "COPY bulk FROM STDIN"); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		byHand += time.Since(start)
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	n := float64(b.N) * float64(rows)
	b.ReportMetric(n/viaRouter.Seconds(), "router-rows/s")
	b.ReportMetric(n/byHand.Seconds(), "direct-rows/s")
	b.ReportMetric(byHand.Seconds()/viaRouter.Seconds(), "ratio")
	truncate()
}

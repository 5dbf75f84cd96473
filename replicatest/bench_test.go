package replicatest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPointReads runs point reads from one session at each
// consistency level while another session keeps writing, and reports the
// share of reads replicas served (replica-%) next to the time per read.
// Compare ryw with strong for what read-your-writes costs, and with
// eventual for what its check costs.
//
//	go test ./replicatest -run '^$' -bench PointReads -benchtime 2000x
func BenchmarkPointReads(b *testing.B) {
	for _, level := range []string{"strong", "ryw", "bounded", "eventual"} {
		b.Run(level, func(b *testing.B) { benchReads(b, level, false) })
	}
	// Every read follows the session's own write: the check may wait
	// for a replica to replay it, or read the primary.
	b.Run("strong-after-own-write", func(b *testing.B) { benchReads(b, "strong", true) })
	b.Run("ryw-after-own-write", func(b *testing.B) { benchReads(b, "ryw", true) })
}

func benchReads(b *testing.B, level string, ownWrites bool) {
	ctx := context.Background()
	c := connect(b)
	if _, err := c.Exec(ctx, "SET sqlrouter.read_consistency = "+level); err != nil {
		b.Fatal(err)
	}
	id := keyOn(b, "s0")
	if _, err := c.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'bench')", id); err != nil {
		b.Fatal(err)
	}
	caughtUp(b, "s0")
	// A writer elsewhere moves the primary on, as in a read-heavy
	// application's background.
	w := connect(b)
	wid := keyOn(b, "s0")
	if _, err := w.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'writer')", wid); err != nil {
		b.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			w.Exec(ctx, "UPDATE customers SET name = name WHERE id = $1", wid)
			time.Sleep(2 * time.Millisecond)
		}
	})
	before := readCounts("s0")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ownWrites {
			if _, err := c.Exec(ctx, "UPDATE customers SET name = 'bench' WHERE id = $1", id); err != nil {
				b.Fatal(err)
			}
		}
		var name string
		if err := c.QueryRow(ctx, "SELECT name FROM customers WHERE id = $1", id).Scan(&name); err != nil || name != "bench" {
			b.Fatalf("read %q %v", name, err)
		}
	}
	b.StopTimer()
	stop.Store(true)
	wg.Wait()
	after := readCounts("s0")
	replica, primary := after[0]-before[0], after[1]-before[1]
	if replica+primary > 0 {
		b.ReportMetric(100*float64(replica)/float64(replica+primary), "replica-%")
	}
}

// TestReadHeavyWorkloadUsesReplicas holds the benchmark's promise in the
// suite: with replicas caught up, 95% of a read-heavy ryw workload's
// reads are served by replicas.
func TestReadHeavyWorkloadUsesReplicas(t *testing.T) {
	res := testing.Benchmark(func(b *testing.B) { benchReads(b, "ryw", false) })
	share, ok := res.Extra["replica-%"]
	if !ok || share < 95 {
		t.Errorf("replicas served %.1f%% of %d ryw reads (%v), want at least 95%%", share, res.N, res)
	}
	t.Logf("%v", res)
}

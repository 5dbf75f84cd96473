package copytest

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// bulkRow is row i of the bulk table in text format (about 90 bytes).
func bulkRow(i int64, dst []byte) []byte {
	dst = strconv.AppendInt(dst, 10_000_000+i, 10)
	dst = append(dst, "\tpayload of row "...)
	dst = strconv.AppendInt(dst, i, 10)
	dst = append(dst, " ......................................................\n"...)
	return dst
}

// A large COPY streams: the router (in this process) allocates a small
// fraction of the bytes copied and its heap does not grow with the input,
// because it holds one buffer per cluster, never the data.
func TestCopyMemoryBounded(t *testing.T) {
	ready(t)
	const rows = 500_000
	c := router(t)
	sqlExec(t, c, "TRUNCATE bulk")
	gen := &rowGenerator{end: rows, row: bulkRow}

	var peak atomic.Uint64
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	tag, err := c.PgConn().CopyFrom(ctxT(t), gen, "COPY bulk FROM STDIN")
	close(stop)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if tag.String() != fmt.Sprintf("COPY %d", rows) {
		t.Fatalf("tag %q", tag)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	growth := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("%d rows, %d bytes copied; %d bytes allocated in the process, heap grew by at most %d bytes", rows, gen.total, alloc, growth)
	// Under the race detector sync.Pool keeps less, so the client side
	// allocates more; holding or copying the data would cost at least its
	// size.
	if alloc > uint64(gen.total)/2 {
		t.Errorf("the COPY allocated %d bytes for %d bytes of data: it does not stream", alloc, gen.total)
	}
	if growth > 16<<20 {
		t.Errorf("the heap grew by %d bytes during a COPY of %d bytes", growth, gen.total)
	}
	n := 0
	for _, cl := range clusters() {
		k := countOn(t, cl, "bulk", "")
		if k < rows/3 {
			t.Errorf("%d rows on %s: not split", k, cl)
		}
		n += k
	}
	if n != rows {
		t.Errorf("%d rows on the clusters, want %d", n, rows)
	}
}

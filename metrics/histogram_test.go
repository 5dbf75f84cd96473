package metrics

import (
	"testing"
	"time"
)

func TestHistogramBucketsAreCumulative(t *testing.T) {
	var h Histogram
	h.Observe(50 * time.Microsecond) // first bucket
	h.Observe(time.Millisecond)      // exactly on the 1 ms bound
	h.Observe(3 * time.Millisecond)  // 5 ms bucket
	h.Observe(time.Minute)           // +Inf only
	s := h.Snapshot()
	if s.Count != 4 {
		t.Fatalf("count %d, want 4", s.Count)
	}
	for bound, want := range map[float64]uint64{0.0001: 1, 0.0005: 1, 0.001: 2, 0.0025: 2, 0.005: 3, 30: 3} {
		if got := s.Cumulative[bound]; got != want {
			t.Errorf("bucket %v: %d, want %d", bound, got, want)
		}
	}
	want := (50*time.Microsecond + time.Millisecond + 3*time.Millisecond + time.Minute).Seconds()
	if s.Sum != want {
		t.Errorf("sum %v, want %v", s.Sum, want)
	}
	if m := s.Mean(); m != time.Duration(want/4*float64(time.Second)) {
		t.Errorf("mean %v", m)
	}
}

func TestCodeCounts(t *testing.T) {
	var c CodeCounts
	for _, code := range []string{"57014", "23505", "57014"} {
		c.Add(code)
	}
	s := c.Snapshot()
	if s["57014"] != 2 || s["23505"] != 1 || len(s) != 2 || c.Total() != 3 {
		t.Fatalf("counts %v, total %d", s, c.Total())
	}
}

// Observe is on the hot path of every statement: no allocation, a few
// atomic adds.
func BenchmarkHistogramObserve(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := range b.N {
		h.Observe(time.Duration(i%5000) * time.Microsecond)
	}
}

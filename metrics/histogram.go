package metrics

import (
	"sync/atomic"
	"time"
)

// LatencyBuckets are the upper bounds, in seconds, of every latency
// histogram: 100 µs to 30 s.
var LatencyBuckets = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Histogram counts durations in LatencyBuckets. Its zero value is ready;
// it is safe for concurrent use and Observe does not allocate.
type Histogram struct {
	// counts[i] counts observations in bucket i alone (not cumulative);
	// the last one is +Inf.
	counts [len(LatencyBuckets) + 1]atomic.Uint64
	sumNS  atomic.Uint64
}

// Observe records one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(LatencyBuckets) && s > LatencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	if d > 0 {
		h.sumNS.Add(uint64(d))
	}
}

// HistogramSnapshot is a histogram's state at one moment.
type HistogramSnapshot struct {
	// Count is the number of observations and Sum their total, in seconds.
	Count uint64
	Sum   float64
	// Cumulative maps each bound of LatencyBuckets to the number of
	// observations at or below it (the form Prometheus wants).
	Cumulative map[float64]uint64
}

// Snapshot reads the histogram. Concurrent observations may be counted
// in some buckets and not yet in others; each counter is exact.
func (h *Histogram) Snapshot() HistogramSnapshot {
	snap := HistogramSnapshot{Cumulative: make(map[float64]uint64, len(LatencyBuckets))}
	var total uint64
	for i, bound := range LatencyBuckets {
		total += h.counts[i].Load()
		snap.Cumulative[bound] = total
	}
	snap.Count = total + h.counts[len(LatencyBuckets)].Load()
	snap.Sum = time.Duration(h.sumNS.Load()).Seconds()
	return snap
}

// Mean is the average observation, 0 when there is none.
func (s HistogramSnapshot) Mean() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return time.Duration(s.Sum / float64(s.Count) * float64(time.Second))
}

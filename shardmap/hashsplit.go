package shardmap

import (
	"math"
	"math/bits"
)

// EvenHashRanges is the meaning of the short form `shards: [c0, ..., cN-1]`:
// the signed 64-bit hash space [-2^63, 2^63) split into N contiguous
// ranges, the first cluster taking the lowest. Range i is
// [bound(i), bound(i+1)) with
//
//	bound(i) = -2^63 + floor(i * 2^64 / N)
//
// computed exactly in 128-bit arithmetic (so bound(0) = -2^63 and
// bound(N) = 2^63); range sizes differ by at most one. For two clusters
// the split is at 0; for four at -2^62, 0, 2^62.
func EvenHashRanges(clusters []string) []HashRange {
	n := uint64(len(clusters))
	out := make([]HashRange, len(clusters))
	for i := range clusters {
		out[i] = HashRange{Cluster: clusters[i], Min: evenBound(uint64(i), n), Max: math.MaxInt64}
		if i > 0 {
			out[i-1].Max = out[i].Min - 1
		}
	}
	return out
}

// evenBound is -2^63 + floor(i * 2^64 / n) for 0 <= i < n.
func evenBound(i, n uint64) int64 {
	q, _ := bits.Div64(i, 0, n) // (i<<64) / n; i < n so it cannot overflow
	return int64(q ^ 1<<63)     // q - 2^63 in two's complement
}

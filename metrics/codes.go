package metrics

import (
	"maps"
	"sync"
	"sync/atomic"
)

// CodeCounts counts events by a short code, such as the SQLSTATE of an
// error. Its zero value is ready; it is safe for concurrent use.
type CodeCounts struct {
	m sync.Map // code -> *atomic.Uint64
}

// Add counts one event with code.
func (c *CodeCounts) Add(code string) {
	if v, ok := c.m.Load(code); ok {
		v.(*atomic.Uint64).Add(1)
		return
	}
	v, _ := c.m.LoadOrStore(code, new(atomic.Uint64))
	v.(*atomic.Uint64).Add(1)
}

// Snapshot returns the count of every code seen.
func (c *CodeCounts) Snapshot() map[string]uint64 {
	out := map[string]uint64{}
	c.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return out
}

// Total is the sum of every code's count.
func (c *CodeCounts) Total() uint64 {
	var n uint64
	for v := range maps.Values(c.Snapshot()) {
		n += v
	}
	return n
}

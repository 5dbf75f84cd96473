package planner

import (
	"container/list"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

type cacheKey struct {
	rev        int64
	searchPath string
	sql        string
	prepared   bool
	// The declared parameter types: up to four in oids (the common case,
	// which needs no allocation), more spelt out in moreOIDs.
	noids    int
	oids     [4]uint32
	moreOIDs string
}

func (k *cacheKey) setOIDs(oids []uint32) {
	k.noids = len(oids)
	if len(oids) <= len(k.oids) {
		copy(k.oids[:], oids)
		return
	}
	k.moreOIDs = oidKey(oids)
}

type cacheEntry struct {
	stmts []Statement
	err   error
}

// maxCachedText is the longest text whose plan (or shape) is kept: giant
// texts (bulk INSERTs) are not worth keeping.
const maxCachedText = 64 << 10

// lru is a bounded map that forgets the least recently used entry first.
// It is safe for concurrent use. Keys of the plan caches carry the shard
// map revision, so a new map version misses and old entries age out.
type lru[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recent; values are *lruItem
	items map[K]*lruItem[K, V]
}

type lruItem[K comparable, V any] struct {
	key   K
	value V
	elem  *list.Element
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	return &lru[K, V]{max: max, order: list.New(), items: make(map[K]*lruItem[K, V])}
}

func (c *lru[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(it.elem)
	return it.value, true
}

func (c *lru[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if it, ok := c.items[k]; ok {
		it.value = v
		c.order.MoveToFront(it.elem)
		return
	}
	it := &lruItem[K, V]{key: k, value: v}
	it.elem = c.order.PushFront(it)
	c.items[k] = it
	for c.order.Len() > c.max {
		old := c.order.Remove(c.order.Back()).(*lruItem[K, V])
		delete(c.items, old.key)
	}
}

// Len is the number of cached entries.
func (c *lru[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

func oidKey(oids []uint32) string {
	if len(oids) == 0 {
		return ""
	}
	var b strings.Builder
	for _, o := range oids {
		b.WriteString(strconv.FormatUint(uint64(o), 10))
		b.WriteByte(',')
	}
	return b.String()
}

// cacheCounters count how statement texts were planned.
type cacheCounters struct {
	// hits are texts planned from the cache (their text's plan or their
	// shape's template); misses are texts parsed.
	hits, misses atomic.Int64
}

// CacheStats are the plan cache's counters.
type CacheStats struct {
	// Hits counts statement texts planned from the cache, by their text
	// or by their shape; Misses counts texts parsed and planned anew.
	Hits, Misses int64
	// Entries is the number of plans cached now: by text, and by shape.
	Entries int
}

// CacheStats reads the plan cache's counters.
func (p *Planner) CacheStats() CacheStats {
	return CacheStats{Hits: p.counts.hits.Load(), Misses: p.counts.misses.Load(), Entries: p.cache.Len() + p.shapes.Len()}
}

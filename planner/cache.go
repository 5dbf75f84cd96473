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
	oids       string
}

type cacheEntry struct {
	stmts []Statement
	err   error
}

// planCache is a bounded LRU of plans. Keys carry the shard map revision,
// so a new map version misses and old entries age out.
type planCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recent; values are cacheKey
	items map[cacheKey]*cacheItem
	// hits and misses count get's answers.
	hits, misses atomic.Int64
}

type cacheItem struct {
	entry cacheEntry
	elem  *list.Element
}

func newPlanCache(max int) *planCache {
	return &planCache{max: max, order: list.New(), items: make(map[cacheKey]*cacheItem)}
}

func (c *planCache) get(k cacheKey) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[k]
	if !ok {
		c.misses.Add(1)
		return cacheEntry{}, false
	}
	c.hits.Add(1)
	c.order.MoveToFront(it.elem)
	return it.entry, true
}

func (c *planCache) put(k cacheKey, e cacheEntry) {
	if len(k.sql) > 64<<10 {
		return // giant texts (bulk INSERTs) are not worth keeping
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if it, ok := c.items[k]; ok {
		it.entry = e
		c.order.MoveToFront(it.elem)
		return
	}
	c.items[k] = &cacheItem{entry: e, elem: c.order.PushFront(k)}
	for c.order.Len() > c.max {
		old := c.order.Remove(c.order.Back()).(cacheKey)
		delete(c.items, old)
	}
}

// Len is the number of cached entries.
func (c *planCache) Len() int {
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

// CacheStats are the plan cache's counters.
type CacheStats struct {
	// Hits and Misses count lookups of statement texts.
	Hits, Misses int64
	// Entries is the number of plans cached now.
	Entries int
}

// CacheStats reads the plan cache's counters.
func (p *Planner) CacheStats() CacheStats {
	return CacheStats{Hits: p.cache.hits.Load(), Misses: p.cache.misses.Load(), Entries: p.cache.Len()}
}

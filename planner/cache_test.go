package planner

import "testing"

// The plan cache counts a miss for a new text and a hit for each repeat;
// a new shard map revision misses again.
func TestCacheStatsCountHitsAndMisses(t *testing.T) {
	m := loadTestMap(t)
	p := New(Options{})
	ctx := Context{Map: m, Revision: 1}
	for range 3 {
		if _, err := p.PlanQuery(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	ctx.Revision = 2
	if _, err := p.PlanQuery(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	got := p.CacheStats()
	if got.Hits != 2 || got.Misses != 2 || got.Entries != 2 {
		t.Fatalf("cache stats %+v, want 2 hits, 2 misses, 2 entries", got)
	}
}

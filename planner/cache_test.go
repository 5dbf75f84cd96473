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

// A text served by its shape's template counts as a hit: it was not
// parsed. A text its shape cannot serve (keys on two clusters) is parsed.
func TestCacheStatsCountShapeHits(t *testing.T) {
	m := loadTestMap(t)
	p := New(Options{})
	ctx := Context{Map: m, Revision: 1}
	for _, sql := range []string{
		"SELECT * FROM customers WHERE id = 7",
		"SELECT * FROM customers WHERE id = 8",
		"SELECT * FROM customers WHERE id = 9",
		"SELECT * FROM customers WHERE id IN (1, 1)",
		"SELECT * FROM customers WHERE id IN (1, 2)",
	} {
		if _, err := p.PlanQuery(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	got := p.CacheStats()
	if got.Hits != 2 || got.Misses != 3 {
		t.Fatalf("cache stats %+v, want 2 hits (ids 8 and 9) and 3 misses", got)
	}
}

package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// EXPLAIN through the router shows the distributed plan, the SQL each
// cluster gets and each cluster's own plan; ANALYZE adds each cluster's
// timing; FORMAT JSON is one json document.
func TestExplain(t *testing.T) {
	c := connect(t)
	lines := func(sql string) string {
		rows, err := c.Query(ctxT(t), sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		var out []string
		for rows.Next() {
			var l string
			rows.Scan(&l)
			out = append(out, l)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return strings.Join(out, "\n")
	}
	id := keyOn(t, "s1")
	out := lines("EXPLAIN SELECT * FROM customers WHERE id = " + itoa(id))
	for _, want := range []string{"Distributed plan", "Route: s1", "s1: route", "Index Scan using customers_pkey"} {
		if !strings.Contains(out, want) {
			t.Errorf("EXPLAIN of a routed read lacks %q:\n%s", want, out)
		}
	}
	out = lines("EXPLAIN (ANALYZE, COSTS OFF) SELECT name FROM customers ORDER BY name LIMIT 3")
	for _, want := range []string{"Merge sorted by key1, limit 3", "s0: scatter", "s1: scatter", "LIMIT 3", "actual time="} {
		if !strings.Contains(out, want) {
			t.Errorf("EXPLAIN ANALYZE of a scatter lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "Execution Time"); n != 2 {
		t.Errorf("EXPLAIN ANALYZE shows %d clusters' timings, want 2:\n%s", n, out)
	}
	out = lines("EXPLAIN SELECT country, count(*) FROM customers GROUP BY country")
	if !strings.Contains(out, "Combine partial aggregates") || !strings.Contains(out, "coordinator: SELECT c1 AS country") {
		t.Errorf("EXPLAIN of an aggregate:\n%s", out)
	}
	var doc []map[string]any
	if err := json.Unmarshal([]byte(lines("EXPLAIN (FORMAT JSON) SELECT id FROM customers ORDER BY id")), &doc); err != nil {
		t.Fatalf("FORMAT JSON: %v", err)
	}
	if plans, _ := doc[0]["Cluster Plans"].([]any); len(plans) != 2 {
		t.Errorf("FORMAT JSON: %d cluster plans, want 2: %v", len(plans), doc)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

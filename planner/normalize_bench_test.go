package planner

import (
	"strings"
	"testing"
)

// BenchmarkNormalize measures the normalizer's throughput on statements of
// several sizes, in the reusable form the planner uses (scan, shape and
// cache key; no allocation) and through the exported Normalize.
func BenchmarkNormalize(b *testing.B) {
	texts := map[string]string{
		"PointSelect": "SELECT id, name, email FROM customers WHERE id = 42",
		"Join3Tables": `SELECT c.name, o.id, o.amount, k.name
FROM customers c
JOIN orders o ON o.customer_id = c.id
JOIN countries k ON k.code = c.country
WHERE c.id = 42 AND o.status = 'new'`,
		"Insert20Rows": "INSERT INTO customers (id, name, email, country) VALUES " +
			strings.Repeat("(1001, 'name 1', 'n1@example.com', 'fr'), ", 19) + "(42, 'name 0', 'n0@example.com', 'us')",
	}
	for _, name := range []string{"PointSelect", "Join3Tables", "Insert20Rows"} {
		sql := texts[name]
		b.Run(name, func(b *testing.B) {
			var n normalizer
			ctx := Context{Revision: 1}
			b.SetBytes(int64(len(sql)))
			b.ReportAllocs()
			for b.Loop() {
				if !n.scan(sql) {
					b.Fatal("refused")
				}
				n.buildShape()
				n.cacheKey(ctx)
			}
		})
		b.Run(name+"/Normalize", func(b *testing.B) {
			b.SetBytes(int64(len(sql)))
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := Normalize(sql); !ok {
					b.Fatal("refused")
				}
			}
		})
	}
}

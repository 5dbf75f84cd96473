package planner_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/sqlrouter/sqlrouter/planner"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// The planner's benchmarks, one family per statement class:
//
//   - Cold: a new Planner for every iteration, so every plan is parsed and
//     planned from scratch (the cost of a statement shape seen once).
//     Parse is pg_query's part of it alone.
//   - Hit: the same text again and again, served by the plan cache.
//   - DistinctLiterals: the same shape with a new literal each time, as
//     pgbench -S and most ORMs' simple-protocol clients send it: a hit of
//     the shape cache when the class's plans are made from templates
//     (shape.go), else a cold plan plus a cache insertion.
//
// Statements are planned as the router plans them: a Query message with
// PlanQueryInto into one reused planner.Query, a prepared statement with
// PlanPrepared and Target.ResolveOne.
//
// Run them with
//
//	go test -run '^$' -bench . -benchmem ./planner
//
// CI runs them with -benchtime=1x so that they cannot rot.

// benchMap is a four-cluster map holding every kind of table the classes
// below touch.
const benchMap = `
version: 1
clusters:
  s0: {primary: "postgres://app@127.0.0.1:5433/app"}
  s1: {primary: "postgres://app@127.0.0.1:5434/app"}
  s2: {primary: "postgres://app@127.0.0.1:5435/app"}
  s3: {primary: "postgres://app@127.0.0.1:5436/app"}
coordinator: "postgres://app@127.0.0.1:5440/app"
default_cluster: s0
distributions:
  by_customer:
    type: hash
    key_type: bigint
    shards: [s0, s1, s2, s3]
tables:
  customers: {distribution: by_customer, key: id}
  orders:    {distribution: by_customer, key: customer_id}
  countries: {reference: true}
`

// statementClass is one kind of statement the router plans.
type statementClass struct {
	name string
	// sql is the statement with %d where a literal varies (the
	// DistinctLiterals variant); classes without %d have no such variant.
	sql string
	// prepared plans through PlanPrepared with paramOIDs, then routes at
	// Bind with bind as $1.
	prepared  bool
	paramOIDs []uint32
	bind      [][]byte
}

// insertRows is a 20-row INSERT whose keys start at %d.
func insertRows() string {
	var b strings.Builder
	b.WriteString("INSERT INTO customers (id, name, email, country) VALUES ")
	for i := range 20 {
		if i > 0 {
			b.WriteString(", ")
		}
		// The first key carries the varying literal; the others are fixed.
		if i == 0 {
			b.WriteString("(%d, 'name 0', 'n0@example.com', 'us')")
		} else {
			fmt.Fprintf(&b, "(%d, 'name %d', 'n%d@example.com', 'fr')", 1000+i, i, i)
		}
	}
	return b.String()
}

var statementClasses = []statementClass{
	{name: "PointSelect", sql: "SELECT id, name, email FROM customers WHERE id = %d"},
	{name: "PointSelectParam", sql: "SELECT id, name, email FROM customers WHERE id = $1", prepared: true, paramOIDs: []uint32{20}, bind: [][]byte{[]byte("42")}},
	{name: "InsertRow", sql: "INSERT INTO customers (id, name, email) VALUES (%d, 'name', 'n@example.com')"},
	{name: "UpdateByKey", sql: "UPDATE customers SET balance = balance + 5 WHERE id = %d"},
	{name: "UpdateReference", sql: "UPDATE countries SET name = name || 'x' WHERE code = '%d'"},
	{name: "Insert20Rows", sql: insertRows()},
	{name: "Join3Tables", sql: `SELECT c.name, o.id, o.amount, k.name
FROM customers c
JOIN orders o ON o.customer_id = c.id
JOIN countries k ON k.code = c.country
WHERE c.id = %d AND o.status = 'new'`},
	{name: "FanOutAggregate", sql: "SELECT country, count(*), sum(id) FROM customers WHERE id > %d GROUP BY country"},
	{name: "Begin", sql: "BEGIN"},
	{name: "Commit", sql: "COMMIT"},
}

func loadBenchMap(b *testing.B) *shardmap.Map {
	b.Helper()
	m, err := shardmap.Parse([]byte(benchMap))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// text is the class's statement with literal n.
func (c statementClass) text(n int) string {
	if strings.Contains(c.sql, "%d") {
		return strings.Replace(c.sql, "%d", strconv.Itoa(n), 1)
	}
	return c.sql
}

// plan plans sql as the class says, as the router does: a Query message
// into the session's reused planner.Query; for a prepared statement,
// Parse and one execution routed as Bind would.
func (c statementClass) plan(b *testing.B, p *planner.Planner, q *planner.Query, ctx planner.Context, sql string) {
	if !c.prepared {
		if err := p.PlanQueryInto(ctx, sql, q); err != nil {
			b.Fatalf("%s: %v", c.name, err)
		}
		if len(q.Stmts) != 1 {
			b.Fatalf("%s: %d statements planned, want 1", c.name, len(q.Stmts))
		}
		return
	}
	ctx.ParamOIDs = c.paramOIDs
	st, err := p.PlanPrepared(ctx, sql)
	if err != nil {
		b.Fatalf("%s: %v", c.name, err)
	}
	route, ok := st.Plan.(*planner.Route)
	if !ok {
		b.Fatalf("%s: plan is %T, want a Route", c.name, st.Plan)
	}
	if _, err := route.Target.ResolveOne(planner.Params{Values: c.bind}); err != nil {
		b.Fatalf("%s: bind: %v", c.name, err)
	}
}

// BenchmarkPlanCold parses and plans every class with an empty cache.
func BenchmarkPlanCold(b *testing.B) {
	m := loadBenchMap(b)
	for _, c := range statementClasses {
		b.Run(c.name, func(b *testing.B) {
			ctx := planner.Context{Map: m, Revision: 1}
			sql := c.text(42)
			b.ReportAllocs()
			var q planner.Query
			for b.Loop() {
				c.plan(b, planner.New(planner.Options{}), &q, ctx, sql)
			}
		})
	}
}

// BenchmarkParse is pg_query's parse of each class alone: the floor of a
// cold plan (cgo, the parser, and the parse tree's protobuf both ways).
func BenchmarkParse(b *testing.B) {
	for _, c := range statementClasses {
		b.Run(c.name, func(b *testing.B) {
			sql := c.text(42)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pg_query.Parse(sql); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPlanHit plans the same text of every class over and over: after
// the first iteration each one is a plan-cache hit.
func BenchmarkPlanHit(b *testing.B) {
	m := loadBenchMap(b)
	for _, c := range statementClasses {
		b.Run(c.name, func(b *testing.B) {
			p := planner.New(planner.Options{})
			ctx := planner.Context{Map: m, Revision: 1}
			sql := c.text(42)
			var q planner.Query
			c.plan(b, p, &q, ctx, sql) // warm the cache
			b.ReportAllocs()
			for b.Loop() {
				c.plan(b, p, &q, ctx, sql)
			}
		})
	}
}

// BenchmarkPlanDistinctLiterals plans one shape with a different literal
// each iteration, on one planner (bounded cache, as in the router).
func BenchmarkPlanDistinctLiterals(b *testing.B) {
	forEachLiteralStream(b, func(b *testing.B, c statementClass, p *planner.Planner, ctx planner.Context, texts []string) {
		var q planner.Query
		for i := 0; b.Loop(); i++ {
			c.plan(b, p, &q, ctx, texts[i%len(texts)])
		}
	})
}

// forEachLiteralStream runs a sub-benchmark for each class with a varying
// literal, on a new planner, with the class's texts for literals 1 to
// 16384: built before the timer (the client, not the router, writes the
// literal), four times as many as the default cache holds so that cycling
// through them never hits the text cache.
func forEachLiteralStream(b *testing.B, run func(b *testing.B, c statementClass, p *planner.Planner, ctx planner.Context, texts []string)) {
	m := loadBenchMap(b)
	for _, c := range statementClasses {
		if c.prepared || !strings.Contains(c.sql, "%d") {
			continue
		}
		texts := make([]string, 1<<14)
		for i := range texts {
			texts[i] = c.text(i + 1)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			run(b, c, planner.New(planner.Options{}), planner.Context{Map: m, Revision: 1}, texts)
		})
	}
}

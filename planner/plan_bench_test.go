package planner_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/sqlrouter/sqlrouter/planner"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// The planner's benchmarks, one family per statement class:
//
//   - Cold: a new Planner for every iteration, so every plan is parsed and
//     planned from scratch (the cost of a statement shape seen once).
//   - Hit: the same text again and again, served by the plan cache.
//   - DistinctLiterals: the same shape with a new literal each time, as
//     pgbench -S and most ORMs' simple-protocol clients send it. Today each
//     text is a new cache key (a cold plan plus a cache insertion); a
//     shape-normalizing cache turns these into hits.
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
	bind      string
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
	{name: "PointSelectParam", sql: "SELECT id, name, email FROM customers WHERE id = $1", prepared: true, paramOIDs: []uint32{20}, bind: "42"},
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

// plan plans sql as the class says and, for a prepared statement, routes
// one execution as Bind would.
func (c statementClass) plan(b *testing.B, p *planner.Planner, ctx planner.Context, sql string) {
	if !c.prepared {
		stmts, err := p.PlanQuery(ctx, sql)
		if err != nil {
			b.Fatalf("%s: %v", c.name, err)
		}
		if len(stmts) != 1 {
			b.Fatalf("%s: %d statements planned, want 1", c.name, len(stmts))
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
	if _, err := route.Target.ResolveOne(planner.Params{Values: [][]byte{[]byte(c.bind)}}); err != nil {
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
			for b.Loop() {
				c.plan(b, planner.New(planner.Options{}), ctx, sql)
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
			c.plan(b, p, ctx, sql) // warm the cache
			b.ReportAllocs()
			for b.Loop() {
				c.plan(b, p, ctx, sql)
			}
		})
	}
}

// BenchmarkPlanDistinctLiterals plans one shape with a different literal
// each iteration, on one planner (bounded cache, as in the router).
func BenchmarkPlanDistinctLiterals(b *testing.B) {
	m := loadBenchMap(b)
	for _, c := range statementClasses {
		if c.prepared || !strings.Contains(c.sql, "%d") {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			p := planner.New(planner.Options{})
			ctx := planner.Context{Map: m, Revision: 1}
			// Texts are built before the timer (the client, not the
			// router, writes the literal), four times as many as the
			// default cache holds so that cycling through them never hits.
			const distinct = 1 << 14
			texts := make([]string, distinct)
			for i := range texts {
				texts[i] = c.text(i + 1)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				c.plan(b, p, ctx, texts[i%distinct])
				i++
			}
		})
	}
}

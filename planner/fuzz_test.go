package planner

import (
	"testing"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// FuzzPlan: any text either plans or fails with a SQLSTATE; nothing
// panics, and every plan prints and resolves.
func FuzzPlan(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM customers WHERE id = 1",
		"INSERT INTO customers (id, name) VALUES ($1, $2), ($3, $4)",
		"WITH RECURSIVE t AS (SELECT 1 UNION ALL SELECT * FROM t) SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id = 1 AND o.customer_id = 1",
		"BEGIN; SAVEPOINT a; ROLLBACK TO a; COMMIT",
		"SET search_path = x; SELECT 1",
	} {
		f.Add(s)
	}
	m := loadTestMap(f)
	p := New(Options{CacheSize: 64})
	f.Fuzz(func(t *testing.T, sql string) {
		stmts, err := p.PlanQuery(Context{Map: m, Revision: 1}, sql)
		if err != nil {
			if pgerror.Code(err) == "" {
				t.Fatalf("error without SQLSTATE: %v", err)
			}
			return
		}
		for _, st := range stmts {
			_ = Explain(st.Plan)
			switch pl := st.Plan.(type) {
			case *Route:
				if _, err := pl.Target.Resolve(Params{}); err != nil && pgerror.Code(err) == "" {
					t.Fatalf("resolve error without SQLSTATE: %v", err)
				}
			case *SplitInsert:
				if _, err := pl.Split(Params{}); err != nil && pgerror.Code(err) == "" {
					t.Fatalf("split error without SQLSTATE: %v", err)
				}
			}
		}
		if _, err := p.PlanPrepared(Context{Map: m, Revision: 1, ParamOIDs: []uint32{0, 23, 25}}, sql); err != nil && pgerror.Code(err) == "" {
			t.Fatalf("prepared: error without SQLSTATE: %v", err)
		}
	})
}

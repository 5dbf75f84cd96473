package planner

import "testing"

// Reset says whether a SET-like command returns the setting to its
// default; an empty value alone does not (SET search_path = ” keeps an
// empty path, SET SESSION CHARACTERISTICS has no single value), or the
// executor would drop such settings instead of replaying them on every
// backend session.
func TestSessionSetReset(t *testing.T) {
	p := New(Options{})
	m := loadTestMap(t)
	for sql, want := range map[string]bool{
		"RESET search_path":               true,
		"SET search_path TO DEFAULT":      true,
		"SET search_path = ''":            false,
		"SET search_path = public":        false,
		"SET LOCAL statement_timeout = 0": false,
		"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE": false,
		"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ":                         false,
	} {
		stmts, err := p.PlanQuery(Context{Map: m, Revision: 1}, sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		set, ok := stmts[0].Plan.(*SessionSet)
		if !ok {
			t.Fatalf("%s: plan %T", sql, stmts[0].Plan)
		}
		if set.Reset != want {
			t.Errorf("%s: Reset %v, want %v", sql, set.Reset, want)
		}
	}
}

package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// conjuncts splits a condition at its top-level ANDs.
func conjuncts(qual *pg_query.Node) []*pg_query.Node {
	if qual == nil {
		return nil
	}
	if b, ok := unwrap(qual).(*pg_query.BoolExpr); ok && b.Boolop == pg_query.BoolExprType_AND_EXPR {
		var out []*pg_query.Node
		for _, a := range b.Args {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []*pg_query.Node{qual}
}

// pushDown records, for each table among rels, the conjuncts of qual that
// filter that table's rows alone, so that they can run where the rows are
// read. unqualified allows unqualified column names (only at the top level
// of a statement with one table, where no outer query can own them). A
// condition in the ON clause of an outer join filters the nullable side's
// rows whatever its form; a WHERE condition on a table of the nullable
// side must reject the NULL-extended rows (a comparison does; IS NULL does
// not) to be pushed.
func (a *analysis) pushDown(qual *pg_query.Node, rels []*relRef, unqualified, onClause bool) {
	for _, c := range conjuncts(qual) {
		owner := a.conjunctOwner(c, rels, unqualified)
		if owner == nil {
			continue
		}
		if owner.nullable && !onClause && !nullRejecting(c) {
			continue
		}
		owner.pushed = append(owner.pushed, c)
	}
}

// conjunctOwner returns the one table a condition reads, when every column
// it names resolves to that table and it calls no function and holds no
// subquery (whose result could depend on where it runs).
func (a *analysis) conjunctOwner(c *pg_query.Node, rels []*relRef, unqualified bool) *relRef {
	var owner *relRef
	ok := true
	inspect(unwrap(c), func(m proto.Message) bool {
		if !ok {
			return false
		}
		switch n := m.(type) {
		case *pg_query.SubLink, *pg_query.FuncCall, *pg_query.SQLValueFunction, *pg_query.GroupingFunc:
			ok = false
		case *pg_query.ColumnRef:
			r := resolveColumn(n, rels, unqualified)
			if r == nil || (owner != nil && owner != r) {
				ok = false
			}
			owner = r
			return false
		}
		return true
	})
	if !ok {
		return nil
	}
	return owner
}

// resolveColumn finds the table among rels a column reference names.
func resolveColumn(cr *pg_query.ColumnRef, rels []*relRef, unqualified bool) *relRef {
	var names []string
	for _, f := range cr.Fields {
		s, ok := unwrap(f).(*pg_query.String)
		if !ok {
			return nil // t.* and the like
		}
		names = append(names, s.Sval)
	}
	switch len(names) {
	case 1:
		if unqualified && len(rels) == 1 {
			return rels[0]
		}
	case 2, 3:
		var found *relRef
		for _, r := range rels {
			if r.hidden || r.refName != names[len(names)-2] {
				continue
			}
			if len(names) == 3 && (r.refName != r.name || (r.schema != "" && r.schema != names[0])) {
				continue
			}
			if found != nil {
				return nil
			}
			found = r
		}
		return found
	}
	return nil
}

// nullRejecting reports whether a condition is false or NULL on a row
// whose columns are all NULL (so it removes NULL-extended rows).
func nullRejecting(n *pg_query.Node) bool {
	switch x := unwrap(n).(type) {
	case *pg_query.A_Expr:
		switch x.Kind {
		case pg_query.A_Expr_Kind_AEXPR_DISTINCT, pg_query.A_Expr_Kind_AEXPR_NOT_DISTINCT, pg_query.A_Expr_Kind_AEXPR_NULLIF:
			return false
		}
		return hasColumnRef(x.Lexpr) || hasColumnRef(x.Rexpr)
	case *pg_query.BoolExpr:
		switch x.Boolop {
		case pg_query.BoolExprType_AND_EXPR:
			for _, a := range x.Args {
				if nullRejecting(a) {
					return true
				}
			}
			return false
		case pg_query.BoolExprType_OR_EXPR:
			for _, a := range x.Args {
				if !nullRejecting(a) {
					return false
				}
			}
			return len(x.Args) > 0
		case pg_query.BoolExprType_NOT_EXPR:
			return len(x.Args) == 1 && nullRejecting(x.Args[0])
		}
	}
	return false
}

// hasColumnRef reports whether an expression is, or directly operates on,
// a column (through casts).
func hasColumnRef(n *pg_query.Node) bool {
	switch x := unwrap(n).(type) {
	case *pg_query.ColumnRef:
		return true
	case *pg_query.TypeCast:
		return hasColumnRef(x.Arg)
	case *pg_query.List:
		for _, i := range x.Items {
			if hasColumnRef(i) {
				return true
			}
		}
	}
	return false
}

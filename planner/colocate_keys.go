package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// linked checks that the placed relations of a level are joined on their
// keys: all into one group at the top and in derived levels, each group to
// an outer key (by a WHERE equality) in a correlated level.
func (c *colocation) linked(lvl *coLevel, where *pg_query.Node, mode coMode) bool {
	parent := map[*coRel]*coRel{}
	var find func(r *coRel) *coRel
	find = func(r *coRel) *coRel {
		if p, ok := parent[r]; ok && p != r {
			root := find(p)
			parent[r] = root
			return root
		}
		return r
	}
	union := func(a, b *coRel) { parent[find(a)] = find(b) }
	anchored := map[*coRel]bool{}
	link := func(qual *pg_query.Node, outer bool) {
		for _, cj := range conjuncts(qual) {
			e, ok := unwrap(cj).(*pg_query.A_Expr)
			if !ok || e.Kind != pg_query.A_Expr_Kind_AEXPR_OP || !isEqualsOperator(e.Name) {
				continue
			}
			l, lOuter := c.resolveKey(e.Lexpr, lvl, outer)
			r, rOuter := c.resolveKey(e.Rexpr, lvl, outer)
			switch {
			case l == nil || r == nil || (lOuter && rOuter):
			case lOuter:
				anchored[r] = true
			case rOuter:
				anchored[l] = true
			default:
				union(l, r)
			}
		}
	}
	link(where, mode == modeCorrelated)
	for _, q := range lvl.quals {
		link(q, false)
	}
	for _, u := range lvl.usings {
		if len(u.left) > 0 && len(u.right) > 0 {
			union(u.left[0], u.right[0])
		}
	}
	var placed []*coRel
	for _, r := range lvl.rels {
		if r.kind == coPlaced {
			placed = append(placed, r)
		}
	}
	switch mode {
	case modeCorrelated:
		roots := map[*coRel]bool{}
		for r := range anchored {
			roots[find(r)] = true
		}
		for _, r := range placed {
			if !roots[find(r)] {
				return false
			}
		}
		return true
	default:
		if len(placed) == 0 {
			return false // rows the same everywhere, filtered by cluster data
		}
		root := find(placed[0])
		for _, r := range placed[1:] {
			if find(r) != root {
				return false
			}
		}
		return true
	}
}

// resolveKey finds the placed relation whose key column an expression
// names, at this level or (when outer) an enclosing one. isOuter reports
// the latter. An unqualified name is looked up at this level only: a name
// the level's other items might also have makes PostgreSQL refuse the
// statement, but an outer one would be shadowed by them.
func (c *colocation) resolveKey(n *pg_query.Node, lvl *coLevel, outer bool) (rel *coRel, isOuter bool) {
	cr, ok := unwrap(n).(*pg_query.ColumnRef)
	if !ok {
		return nil, false
	}
	names := make([]string, 0, len(cr.Fields))
	for _, f := range cr.Fields {
		s, ok := unwrap(f).(*pg_query.String)
		if !ok {
			return nil, false
		}
		names = append(names, s.Sval)
	}
	col := names[len(names)-1]
	if len(names) == 1 {
		var found *coRel
		for _, r := range lvl.rels {
			if r.kind == coPlaced && r.hasKey(col) {
				if found != nil {
					return nil, false
				}
				found = r
			}
		}
		return found, false
	}
	if len(names) > 3 {
		return nil, false
	}
	qual := names[len(names)-2]
	for l, depth := lvl, 0; l != nil; l, depth = l.parent, depth+1 {
		if depth > 0 && !outer {
			return nil, false
		}
		var found *coRel
		for _, r := range l.rels {
			if r.hidden || r.name != qual {
				continue
			}
			if len(names) == 3 && r.schema != names[0] {
				continue
			}
			if found != nil {
				return nil, false // ambiguous: PostgreSQL refuses it
			}
			found = r
		}
		if found != nil {
			if found.kind != coPlaced || !found.hasKey(col) {
				return nil, false
			}
			return found, depth > 0
		}
	}
	return nil, false
}

// sublinks checks every subquery in the expressions of a level (not those
// in its FROM list, which are relations of it).
func (c *colocation) sublinks(s *pg_query.SelectStmt, lvl *coLevel, ctes *coCTEScope) bool {
	var nodes []*pg_query.Node
	nodes = append(nodes, s.TargetList...)
	nodes = append(nodes, s.WhereClause, s.HavingClause, s.LimitCount, s.LimitOffset)
	nodes = append(nodes, s.GroupClause...)
	nodes = append(nodes, s.SortClause...)
	nodes = append(nodes, s.DistinctClause...)
	nodes = append(nodes, s.WindowClause...)
	nodes = append(nodes, lvl.quals...)
	ok := true
	for _, n := range nodes {
		inspect(unwrap(n), func(m proto.Message) bool {
			if !ok {
				return false
			}
			if sl, isSub := m.(*pg_query.SubLink); isSub {
				ok = c.sublink(sl, lvl, ctes)
				// Its test expression belongs to this level.
				if ok && sl.Testexpr != nil {
					inspect(unwrap(sl.Testexpr), func(m proto.Message) bool {
						if inner, isSub := m.(*pg_query.SubLink); isSub && ok {
							ok = c.sublink(inner, lvl, ctes)
							return false
						}
						return ok
					})
				}
				return false
			}
			return true
		})
		if !ok {
			return false
		}
	}
	return true
}

// sublink checks one subquery of an expression.
func (c *colocation) sublink(sl *pg_query.SubLink, lvl *coLevel, ctes *coCTEScope) bool {
	sub, _ := unwrap(sl.Subselect).(*pg_query.SelectStmt)
	if sub == nil {
		return false
	}
	if !c.hasDistributed(sub) {
		return true
	}
	if _, ok := c.query(sub, lvl, ctes, modeCorrelated); ok {
		return true
	}
	// key IN (SELECT key ...) and key <> ALL (SELECT key ...).
	op := nameList(sl.OperName)
	inOp := sl.SubLinkType == pg_query.SubLinkType_ANY_SUBLINK && (len(op) == 0 || op[len(op)-1] == "=")
	notInOp := sl.SubLinkType == pg_query.SubLinkType_ALL_SUBLINK && len(op) > 0 && op[len(op)-1] == "<>"
	if !inOp && !notInOp {
		return false
	}
	lhs, isOuter := c.resolveKey(sl.Testexpr, lvl, false)
	if lhs == nil || isOuter || !c.notNullKey(sl.Testexpr, lvl) {
		return false
	}
	res, ok := c.query(sub, nil, ctes, modeDerived)
	if !ok || res.kind != coPlaced || len(sub.TargetList) != 1 || res.star || len(res.outputs) != 1 {
		return false
	}
	for _, k := range res.notNull {
		if k == res.outputs[0] {
			return true
		}
	}
	return false
}

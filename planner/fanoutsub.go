package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// localSubqueries returns the tables named in subqueries of an UPDATE's
// or DELETE's WHERE that each cluster can evaluate over its own rows for
// its own target rows, so that the statement still runs on each cluster:
//
//	key IN (SELECT c.key FROM colocated c WHERE ...)
//	EXISTS (SELECT ... FROM colocated c WHERE c.key = target.key AND ...)
//
// Every row such a subquery could match for a target row has the target
// row's key, and so lives on the target row's cluster. The subquery may
// join co-located tables on their keys and reference tables; it may not
// aggregate, group or limit (a count or a LIMIT over one cluster's rows
// is not the count or LIMIT over all).
func localSubqueries(ctx *Context, where *pg_query.Node, target *relRef) map[*pg_query.RangeVar]bool {
	local := map[*pg_query.RangeVar]bool{}
	inspect(unwrap(where), func(m proto.Message) bool {
		sl, ok := m.(*pg_query.SubLink)
		if !ok {
			return true
		}
		if sel, ok := unwrap(sl.Subselect).(*pg_query.SelectStmt); ok {
			if a := localSubquery(ctx, sl, sel, target); a != nil {
				for _, r := range a.all {
					local[r.rv] = true
				}
			}
		}
		return false
	})
	return local
}

// localSubquery returns the analysis of a subquery that follows one of
// the two shapes, or nil.
func localSubquery(ctx *Context, sl *pg_query.SubLink, sel *pg_query.SelectStmt, target *relRef) *analysis {
	if sel.Op != pg_query.SetOperation_SETOP_NONE || sel.WithClause != nil || sel.LimitCount != nil || sel.LimitOffset != nil ||
		len(sel.GroupClause) > 0 || sel.HavingClause != nil || len(sel.WindowClause) > 0 || len(sel.ValuesLists) > 0 {
		return nil
	}
	if c := topLevelCalls(sel); c.aggregates || c.windows || c.grouping {
		return nil
	}
	a := newAnalysis(ctx)
	a.visit(sel, nil)
	if a.err != nil || len(a.unmapped) > 0 {
		return nil
	}
	var dist, top []*relRef
	for _, r := range a.all {
		if r.table == nil || r.table.Vertical != nil {
			return nil
		}
		if r.depth == 1 {
			top = append(top, r)
		}
		if r.distributed() {
			if r.depth != 1 || r.table.Distribution != target.table.Distribution {
				return nil
			}
			dist = append(dist, r)
		}
	}
	if len(dist) == 0 || !joinedOnKeys(a, sel, dist, top) {
		return nil
	}
	switch sl.SubLinkType {
	case pg_query.SubLinkType_ANY_SUBLINK:
		if (len(sl.OperName) > 0 && !isEqualsOperator(sl.OperName)) || len(sel.TargetList) != 1 {
			return nil
		}
		rt, ok := unwrap(sel.TargetList[0]).(*pg_query.ResTarget)
		outer := newAnalysis(ctx).keyColumn(sl.Testexpr, []*relRef{target})
		if ok && outer == target && a.keyColumn(rt.Val, dist) != nil {
			return a
		}
	case pg_query.SubLinkType_EXISTS_SUBLINK:
		for _, c := range conjuncts(sel.WhereClause) {
			e, ok := unwrap(c).(*pg_query.A_Expr)
			if !ok || e.Kind != pg_query.A_Expr_Kind_AEXPR_OP || !isEqualsOperator(e.Name) {
				continue
			}
			if (a.keyColumn(e.Lexpr, dist) != nil && namesTargetKey(e.Rexpr, target)) ||
				(a.keyColumn(e.Rexpr, dist) != nil && namesTargetKey(e.Lexpr, target)) {
				return a
			}
		}
	}
	return nil
}

// namesTargetKey reports a qualified reference to the target's key from
// inside a subquery (target.key, alias.key).
func namesTargetKey(n *pg_query.Node, target *relRef) bool {
	cr, ok := unwrap(n).(*pg_query.ColumnRef)
	if !ok || len(cr.Fields) < 2 || stringValue(cr.Fields[len(cr.Fields)-1]) != target.table.Key {
		return false
	}
	return resolveColumn(cr, []*relRef{target}, false) == target
}

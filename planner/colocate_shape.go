package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// derivedShape checks what a subquery does with its rows: each output row
// must still come from one cluster's rows alone.
func (c *colocation) derivedShape(s *pg_query.SelectStmt, lvl *coLevel) bool {
	if s.LimitCount != nil || s.LimitOffset != nil || len(s.LockingClause) > 0 || s.IntoClause != nil {
		return false
	}
	keyIn := func(exprs []*pg_query.Node) bool {
		for _, e := range exprs {
			if e, ok := sortExpr(s.TargetList, e, false); ok && c.notNullKey(e, lvl) {
				return true
			}
		}
		return false
	}
	calls := topLevelCalls(s)
	if calls.aggregates || calls.unknown || calls.grouping || len(s.GroupClause) > 0 || s.HavingClause != nil {
		for _, g := range s.GroupClause {
			if _, sets := unwrap(g).(*pg_query.GroupingSet); sets {
				return false
			}
		}
		if !keyIn(s.GroupClause) {
			return false
		}
	}
	if calls.windows || len(s.WindowClause) > 0 {
		if !c.windowsByKey(s, lvl) {
			return false
		}
	}
	if len(s.DistinctClause) > 0 {
		if len(s.DistinctClause) == 1 && unwrap(s.DistinctClause[0]) == nil {
			// DISTINCT: a key among the outputs keeps equal rows together.
			res := &coResult{}
			c.outputs(s, lvl, res)
			return len(res.notNull) > 0
		}
		return keyIn(s.DistinctClause)
	}
	return true
}

// notNullKey reports whether an expression is a key column of this level
// that is never NULL: groups, partitions and distinct rows by it live on
// one cluster (NULL keys of outer joins come from every cluster).
func (c *colocation) notNullKey(e *pg_query.Node, lvl *coLevel) bool {
	r, _ := c.resolveKey(e, lvl, false)
	if r == nil || r.nullable {
		return false
	}
	cr := unwrap(e).(*pg_query.ColumnRef)
	col := stringValue(cr.Fields[len(cr.Fields)-1])
	for _, k := range r.notNull {
		if k == col {
			return true
		}
	}
	return false
}

// windowsByKey reports whether every window of a level partitions by a
// key.
func (c *colocation) windowsByKey(s *pg_query.SelectStmt, lvl *coLevel) bool {
	named := map[string]*pg_query.WindowDef{}
	for _, w := range s.WindowClause {
		if wd, ok := unwrap(w).(*pg_query.WindowDef); ok {
			named[wd.Name] = wd
		}
	}
	byKey := func(w *pg_query.WindowDef) bool {
		for _, p := range baseWindow(named, w).PartitionClause {
			if c.notNullKey(p, lvl) {
				return true
			}
		}
		return false
	}
	for _, w := range named {
		if !byKey(w) {
			return false
		}
	}
	ok := true
	var nodes []*pg_query.Node
	nodes = append(append(nodes, s.TargetList...), s.SortClause...)
	for _, n := range nodes {
		inspect(unwrap(n), func(m proto.Message) bool {
			if _, sub := m.(*pg_query.SubLink); sub {
				return false
			}
			if f, isFunc := m.(*pg_query.FuncCall); isFunc && f.Over != nil {
				ok = ok && byKey(f.Over)
			}
			return true
		})
	}
	return ok
}

// outputs records which output columns of a level hold the key.
func (c *colocation) outputs(s *pg_query.SelectStmt, lvl *coLevel, res *coResult) {
	for _, t := range s.TargetList {
		rt, ok := unwrap(t).(*pg_query.ResTarget)
		if !ok {
			res.outputs = append(res.outputs, "")
			continue
		}
		if cr, ok := unwrap(rt.Val).(*pg_query.ColumnRef); ok && len(cr.Fields) > 0 {
			if _, star := unwrap(cr.Fields[len(cr.Fields)-1]).(*pg_query.A_Star); star {
				res.star = true
				res.outputs = append(res.outputs, "")
				for _, r := range lvl.rels {
					if r.kind != coPlaced {
						continue
					}
					if len(cr.Fields) == 2 && (r.hidden || r.name != stringValue(cr.Fields[0])) {
						continue
					}
					res.keys = append(res.keys, r.keys...)
					if !r.nullable {
						res.notNull = append(res.notNull, r.notNull...)
					}
				}
				continue
			}
		}
		name := columnName(rt)
		res.outputs = append(res.outputs, name)
		if r, _ := c.resolveKey(rt.Val, lvl, false); r != nil {
			res.keys = append(res.keys, name)
			col := name
			if cr, ok := unwrap(rt.Val).(*pg_query.ColumnRef); ok {
				col = stringValue(cr.Fields[len(cr.Fields)-1])
			}
			if !r.nullable {
				for _, k := range r.notNull {
					if k == col {
						res.notNull = append(res.notNull, name)
					}
				}
			}
		}
	}
}

// outputNames lists a level's output column names ("" where a star is).
func outputNames(s *pg_query.SelectStmt) []string {
	var out []string
	for _, t := range s.TargetList {
		if rt, ok := unwrap(t).(*pg_query.ResTarget); ok {
			out = append(out, columnName(rt))
		} else {
			out = append(out, "")
		}
	}
	return out
}

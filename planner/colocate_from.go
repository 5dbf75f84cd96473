package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// fromItem adds the relations of one FROM item to the level.
func (c *colocation) fromItem(n *pg_query.Node, lvl *coLevel, ctes *coCTEScope) ([]*coRel, bool) {
	add := func(r *coRel) ([]*coRel, bool) {
		lvl.rels = append(lvl.rels, r)
		return []*coRel{r}, true
	}
	switch x := unwrap(n).(type) {
	case *pg_query.RangeVar:
		return c.rangeVar(x, lvl, ctes)
	case *pg_query.RangeTableSample:
		return c.fromItem(x.Relation, lvl, ctes)
	case *pg_query.RangeSubselect:
		sub, _ := unwrap(x.Subquery).(*pg_query.SelectStmt)
		r := &coRel{name: aliasName(x.Alias)}
		if x.Lateral && c.hasDistributed(sub) {
			// Evaluated per row of the items before it: tied to them by
			// key, its rows live where those rows do.
			if _, ok := c.query(sub, lvl, ctes, modeCorrelated); !ok {
				return nil, false
			}
			r.kind = coLocal
			return add(r)
		}
		res, ok := c.query(sub, nil, ctes, modeDerived)
		if !ok {
			return nil, false
		}
		c.setResult(r, res, x.Alias)
		return add(r)
	case *pg_query.RangeFunction:
		if c.hasDistributed(x) {
			return nil, false
		}
		name := aliasName(x.Alias)
		if name == "" && len(x.Functions) > 0 {
			if l, ok := unwrap(x.Functions[0]).(*pg_query.List); ok && len(l.Items) > 0 {
				if f, ok := unwrap(l.Items[0]).(*pg_query.FuncCall); ok {
					names := nameList(f.Funcname)
					name = names[len(names)-1]
				}
			}
		}
		return add(&coRel{kind: coEverywhere, name: name})
	case *pg_query.JoinExpr:
		left, ok := c.fromItem(x.Larg, lvl, ctes)
		if !ok {
			return nil, false
		}
		right, ok := c.fromItem(x.Rarg, lvl, ctes)
		if !ok {
			return nil, false
		}
		all := append(append([]*coRel(nil), left...), right...)
		l, r := spreads(left), spreads(right)
		switch x.Jointype {
		case pg_query.JoinType_JOIN_LEFT:
			if r && !l {
				return nil, false // rows of the left side kept on every cluster
			}
			markCoNullable(right)
		case pg_query.JoinType_JOIN_RIGHT:
			if l && !r {
				return nil, false
			}
			markCoNullable(left)
		case pg_query.JoinType_JOIN_FULL:
			if l != r {
				return nil, false
			}
			markCoNullable(all)
		}
		if x.Quals != nil {
			lvl.quals = append(lvl.quals, x.Quals)
		}
		if len(x.UsingClause) > 0 {
			for _, u := range x.UsingClause {
				col := stringValue(u)
				lvl.usings = append(lvl.usings, coUsing{left: withKey(left, col), right: withKey(right, col)})
			}
		}
		if x.Alias != nil {
			for _, r := range all {
				r.hidden = true
			}
			a := &coRel{kind: coAlias, name: x.Alias.Aliasname}
			lvl.rels = append(lvl.rels, a)
			all = append(all, a)
		}
		return all, true
	default:
		if c.hasDistributed(unwrap(n)) {
			return nil, false
		}
		return add(&coRel{kind: coEverywhere})
	}
}

// rangeVar adds a table or a reference to a WITH query.
func (c *colocation) rangeVar(x *pg_query.RangeVar, lvl *coLevel, ctes *coCTEScope) ([]*coRel, bool) {
	r := &coRel{name: x.Relname}
	if x.Alias != nil {
		r.name = x.Alias.Aliasname
	}
	ref, isTable := c.byRV[x]
	if !isTable {
		cte := ctes.lookup(x.Relname)
		if x.Schemaname != "" || cte == nil {
			return nil, false
		}
		res, ok := c.cte(cte)
		if !ok {
			return nil, false
		}
		c.setResult(r, res, x.Alias)
		lvl.rels = append(lvl.rels, r)
		return []*coRel{r}, true
	}
	switch {
	case ref.table == nil || ref.table.Vertical != nil:
		return nil, false
	case ref.distributed():
		if c.d == nil {
			c.d = ref.table.Distribution
		}
		if ref.table.Distribution != c.d {
			return nil, false
		}
		r.kind = coPlaced
		r.keys = []string{ref.table.Key}
		r.notNull = r.keys
		r.pin = ref.pin
		r.table = ref
		if x.Alias == nil {
			r.schema = ref.schemaOrDefault()
		}
	default:
		r.kind = coEverywhere
	}
	lvl.rels = append(lvl.rels, r)
	return []*coRel{r}, true
}

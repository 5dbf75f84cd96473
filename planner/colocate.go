package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// A read decomposes by cluster when every row its FROM list produces
// (after WHERE) comes from the rows of exactly one cluster, and every row
// that one PostgreSQL would produce is produced by some cluster: then each
// cluster can run the statement over its own rows and the router only
// merges. The co-location check below decides it, query level by query
// level:
//
//   - tables of one distribution are joined on their keys (WHERE, ON or
//     USING equalities, through any chain of joins), so the rows a join
//     combines live on one cluster;
//   - reference tables (and VALUES lists, functions, subqueries over
//     those) hold the same rows everywhere, and may not be kept alone by
//     an outer join against distributed rows (each cluster would return
//     them);
//   - a subquery in FROM or a WITH query is itself a placed relation when
//     its rows decompose (no LIMIT, aggregates only grouped by a key,
//     DISTINCT and window partitions holding a key) and it returns a key
//     column, which the outer level then joins on;
//   - a subquery in an expression (EXISTS, IN, scalar, ANY/ALL, ARRAY,
//     LATERAL) is evaluated per outer row on the outer row's cluster: it
//     must either be tied to that row by an equality between its tables'
//     keys and an outer key (then everything it reads lives there), or be
//     "key IN (SELECT key ...)" whose subquery decomposes and where
//     neither side can be NULL (so three-valued logic cannot tell the
//     cluster's part from the whole).

// coKind is what a FROM item is to the co-location check.
type coKind int

const (
	// coEverywhere: the same rows on every cluster (reference tables,
	// VALUES, functions, subqueries over those).
	coEverywhere coKind = iota
	// coPlaced: rows placed by the distribution's key; keys names the
	// columns that hold it.
	coPlaced
	// coLocal: rows computed per row of the cluster's own placed rows (a
	// LATERAL subquery tied to them by key).
	coLocal
	// coAlias: the name of an aliased join, only for name resolution.
	coAlias
)

// coRel is one FROM item of a query level.
type coRel struct {
	kind coKind
	// name is what qualified columns name the item by (alias, else table
	// name); schema, for a table without alias, its schema.
	name, schema string
	hidden       bool
	nullable     bool
	// keys are the item's columns that hold the distribution key.
	keys []string
	// notNull are the keys that are never NULL (a table's key outside the
	// nullable side of an outer join).
	notNull []string
	// pin restricts the keys of the rows, when known.
	pin *Pin
	// table is set for a table of the map.
	table *relRef
}

func (r *coRel) hasKey(col string) bool {
	for _, k := range r.keys {
		if k == col {
			return true
		}
	}
	return false
}

// coLevel is the FROM list of one query level.
type coLevel struct {
	rels   []*coRel
	parent *coLevel
	// quals are the join conditions of the level; usings the USING
	// column pairs.
	quals  []*pg_query.Node
	usings []coUsing
}

type coUsing struct{ left, right []*coRel }

// coMode is what a query level must satisfy.
type coMode int

const (
	// modeTop: the statement's own level; its aggregates, windows, ORDER
	// BY and LIMIT are the merge's business.
	modeTop coMode = iota
	// modeDerived: a subquery in FROM, a WITH query or the subquery of
	// key IN (...): its rows must decompose by cluster.
	modeDerived
	// modeCorrelated: a subquery evaluated per outer row, tied to it by
	// key: anything goes inside, its rows all live on the row's cluster.
	modeCorrelated
)

// coResult describes the rows of a query level.
type coResult struct {
	kind coKind
	// outputs are the output column names in order ("" when a star makes
	// positions unknown); keys and notNull are those holding the key.
	outputs []string
	star    bool
	keys    []string
	notNull []string
	pin     *Pin
}

// coCTE is a WITH query, checked once when first referenced.
type coCTE struct {
	def       *pg_query.CommonTableExpr
	scope     *coCTEScope
	recursive bool
	checked   bool
	res       *coResult
	ok        bool
}

type coCTEScope struct {
	ctes   map[string]*coCTE
	parent *coCTEScope
}

func (s *coCTEScope) lookup(name string) *coCTE {
	for ; s != nil; s = s.parent {
		if c, ok := s.ctes[name]; ok {
			return c
		}
	}
	return nil
}

// colocation runs the check for one statement, after its analysis.
type colocation struct {
	a    *analysis
	d    *shardmap.Distribution
	byRV map[*pg_query.RangeVar]*relRef
	// distCTEs names the WITH queries (anywhere in the statement) that
	// read distributed tables.
	distCTEs map[string]bool
}

func newColocation(a *analysis, stmt proto.Message) *colocation {
	c := &colocation{a: a, byRV: map[*pg_query.RangeVar]*relRef{}, distCTEs: map[string]bool{}}
	for _, r := range a.all {
		c.byRV[r.rv] = r
	}
	// A WITH query reads distributed tables when it names one, or names a
	// WITH query that does (to a fixed point).
	var defs []*pg_query.CommonTableExpr
	inspect(stmt, func(m proto.Message) bool {
		if cte, ok := m.(*pg_query.CommonTableExpr); ok {
			defs = append(defs, cte)
		}
		return true
	})
	for changed := true; changed; {
		changed = false
		for _, d := range defs {
			if !c.distCTEs[d.Ctename] && c.hasDistributed(unwrap(d.Ctequery)) {
				c.distCTEs[d.Ctename] = true
				changed = true
			}
		}
	}
	return c
}

// hasDistributed reports whether a subtree reads a distributed table (or
// a WITH query that may).
func (c *colocation) hasDistributed(m proto.Message) bool {
	found := false
	inspect(m, func(m proto.Message) bool {
		if found {
			return false
		}
		if rv, ok := m.(*pg_query.RangeVar); ok {
			if r, isTable := c.byRV[rv]; isTable {
				found = r.distributed()
			} else {
				found = c.distCTEs[rv.Relname]
			}
		}
		return true
	})
	return found
}

// colocatedRead reports whether a SELECT decomposes by cluster, and the pin
// (if any) that bounds the clusters its rows come from.
func colocatedRead(a *analysis, s *pg_query.SelectStmt) (*Pin, bool) {
	c := newColocation(a, s)
	res, ok := c.query(s, nil, nil, modeTop)
	if !ok {
		return nil, false
	}
	return res.pin, true
}

// query checks one query level.
func (c *colocation) query(s *pg_query.SelectStmt, outer *coLevel, ctes *coCTEScope, mode coMode) (*coResult, bool) {
	if s == nil {
		return nil, false
	}
	if s.Op != pg_query.SetOperation_SETOP_NONE || len(s.ValuesLists) > 0 {
		if mode == modeTop || c.hasDistributed(s) {
			return nil, false
		}
		return &coResult{kind: coEverywhere}, true
	}
	ctes = c.withScope(s.WithClause, ctes)
	if mode != modeTop && !c.hasDistributed(s) {
		return &coResult{kind: coEverywhere, outputs: outputNames(s)}, true
	}
	lvl := &coLevel{parent: outer}
	for _, f := range s.FromClause {
		if _, ok := c.fromItem(f, lvl, ctes); !ok {
			return nil, false
		}
	}
	if !c.linked(lvl, s.WhereClause, mode) {
		return nil, false
	}
	if !c.sublinks(s, lvl, ctes) {
		return nil, false
	}
	var placed []*coRel
	for _, r := range lvl.rels {
		if r.kind == coPlaced {
			placed = append(placed, r)
		}
	}
	if mode == modeDerived && !c.derivedShape(s, lvl) {
		return nil, false
	}
	res := &coResult{kind: coPlaced}
	if mode == modeCorrelated {
		res.kind = coLocal
	}
	for _, r := range placed {
		if !r.nullable && r.pin != nil && (res.pin == nil || len(r.pin.Values) < len(res.pin.Values)) {
			res.pin = r.pin
		}
	}
	c.outputs(s, lvl, res)
	return res, true
}

// withScope adds the WITH queries of a level to the scope.
func (c *colocation) withScope(w *pg_query.WithClause, sc *coCTEScope) *coCTEScope {
	if w == nil {
		return sc
	}
	inner := &coCTEScope{ctes: map[string]*coCTE{}, parent: sc}
	for _, n := range w.Ctes {
		if cte, ok := unwrap(n).(*pg_query.CommonTableExpr); ok {
			inner.ctes[cte.Ctename] = &coCTE{def: cte, scope: inner, recursive: w.Recursive}
		}
	}
	return inner
}

// cte checks a WITH query once.
func (c *colocation) cte(cte *coCTE) (*coResult, bool) {
	if cte.checked {
		return cte.res, cte.ok
	}
	cte.checked = true
	sub, _ := unwrap(cte.def.Ctequery).(*pg_query.SelectStmt)
	switch {
	case sub == nil:
		cte.ok = false // a data-modifying WITH query
	case cte.recursive && c.distCTEs[cte.def.Ctename]:
		cte.ok = false
	default:
		cte.res, cte.ok = c.query(sub, nil, cte.scope, modeDerived)
		if cte.ok && len(cte.def.Aliascolnames) > 0 {
			cte.res = renamed(cte.res, nameList(cte.def.Aliascolnames))
		}
	}
	return cte.res, cte.ok
}

// setResult makes a relation of a subquery's rows, renamed by its alias's
// column list.
func (c *colocation) setResult(r *coRel, res *coResult, alias *pg_query.Alias) {
	if alias != nil && len(alias.Colnames) > 0 {
		res = renamed(res, nameList(alias.Colnames))
	}
	r.kind = res.kind
	r.keys, r.notNull, r.pin = res.keys, res.notNull, res.pin
}

// renamed applies a column alias list to a subquery's outputs.
func renamed(res *coResult, names []string) *coResult {
	out := *res
	out.keys, out.notNull = nil, nil
	if res.star {
		return &out // positions unknown: no key can be named
	}
	rename := func(list []string) []string {
		var keep []string
		for i, o := range res.outputs {
			for _, k := range list {
				if o == k && o != "" {
					if i < len(names) {
						keep = append(keep, names[i])
					} else {
						keep = append(keep, o)
					}
				}
			}
		}
		return keep
	}
	out.keys, out.notNull = rename(res.keys), rename(res.notNull)
	return &out
}

func aliasName(a *pg_query.Alias) string {
	if a == nil {
		return ""
	}
	return a.Aliasname
}

// spreads reports whether rels hold rows that differ between clusters.
func spreads(rels []*coRel) bool {
	for _, r := range rels {
		if r.kind == coPlaced || r.kind == coLocal {
			return true
		}
	}
	return false
}

func markCoNullable(rels []*coRel) {
	for _, r := range rels {
		r.nullable = true
	}
}

func withKey(rels []*coRel, col string) []*coRel {
	var out []*coRel
	for _, r := range rels {
		if r.kind == coPlaced && r.hasKey(col) {
			out = append(out, r)
		}
	}
	return out
}

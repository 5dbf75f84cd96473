package planner

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// relRef is one table named in a FROM list (or as the target of a write).
type relRef struct {
	schema, name string          // as written; schema may be ""
	refName      string          // the name columns are qualified with: alias, else table name
	hidden       bool            // under an aliased join: not reachable by qualified name
	table        *shardmap.Table // nil for a table outside the map
	pin          *Pin            // nil while no condition fixes the key
	write        bool
	// rv is the RangeVar in the tree the analysis ran on: a distributed
	// plan renames it to the table its rows are gathered into.
	rv *pg_query.RangeVar
	// nullable is set for a table on the nullable side of an outer join.
	nullable bool
	// pushed are conditions that filter this table's rows alone and can
	// run where the table's rows are read.
	pushed []*pg_query.Node
	// depth is the query level the table is named at (1 = the statement's
	// own FROM list).
	depth int
}

// distributed reports whether r is a table of the map placed by a key.
func (r *relRef) distributed() bool { return r.table != nil && r.table.Distribution != nil }

// cteScope is the set of WITH names visible at a point of the tree.
type cteScope struct {
	names  map[string]bool
	parent *cteScope
}

func (s *cteScope) has(name string) bool {
	for ; s != nil; s = s.parent {
		if s.names[name] {
			return true
		}
	}
	return false
}

func (s *cteScope) with(names ...string) *cteScope {
	if len(names) == 0 {
		return s
	}
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return &cteScope{names: m, parent: s}
}

// analysis is what the planner learned about the tables of one statement.
type analysis struct {
	ctx *Context
	// rels are all occurrences of tables in the shard map.
	rels []*relRef
	// all are all occurrences of tables, in the map or not.
	all []*relRef
	// unmapped names tables outside the map (catalogs included).
	unmapped []string
	// catalog is set when a table outside the map is a system catalog.
	catalog bool
	// systemColumns is set when a column such as ctid or xmin is named.
	systemColumns bool
	// sequences is set when nextval, currval, setval or lastval is called.
	sequences bool
	// locking is set by FOR UPDATE/SHARE anywhere in the statement.
	locking bool
	// unknownFuncs is set when the statement calls a function the planner
	// does not know: it may write.
	unknownFuncs bool
	// depth is the nesting of the query level being analyzed (0 = the
	// statement itself).
	depth int
	// funcs is true when the statement calls functions (their results may
	// differ between clusters).
	funcs bool
	// selectInto is true for SELECT ... INTO.
	selectInto bool
	// err is the first error met (e.g. an invalid key literal).
	err error
}

func newAnalysis(ctx *Context) *analysis { return &analysis{ctx: ctx} }

func (a *analysis) fail(err error) {
	if a.err == nil {
		a.err = err
	}
}

// addRel resolves a RangeVar against the CTEs in scope and the shard map.
func (a *analysis) addRel(rv *pg_query.RangeVar, sc *cteScope) *relRef {
	if rv.Schemaname == "" && sc.has(rv.Relname) {
		return nil // a WITH query, analyzed where it is defined
	}
	r := &relRef{schema: rv.Schemaname, name: rv.Relname, refName: rv.Relname, rv: rv, depth: a.depth}
	if rv.Alias != nil && rv.Alias.Aliasname != "" {
		r.refName = rv.Alias.Aliasname
	}
	a.all = append(a.all, r)
	r.table = a.ctx.lookupTable(rv.Schemaname, rv.Relname)
	if r.table == nil {
		name := rv.Relname
		if rv.Schemaname != "" {
			name = rv.Schemaname + "." + name
		}
		a.unmapped = append(a.unmapped, name)
		if rv.Schemaname == "pg_catalog" || rv.Schemaname == "information_schema" || (rv.Schemaname == "" && strings.HasPrefix(rv.Relname, "pg_")) {
			a.catalog = true
		}
		return r
	}
	a.rels = append(a.rels, r)
	return r
}

// visit walks any subtree, analyzing every query level found in it.
func (a *analysis) visit(msg proto.Message, sc *cteScope) {
	switch n := msg.(type) {
	case nil:
	case *pg_query.SelectStmt:
		a.selectStmt(n, sc)
	case *pg_query.InsertStmt:
		a.insertStmt(n, sc)
	case *pg_query.UpdateStmt:
		a.updateStmt(n, sc)
	case *pg_query.DeleteStmt:
		a.deleteStmt(n, sc)
	case *pg_query.RangeVar:
		// A table named outside a FROM list we understand: it counts, and
		// nothing fixes its key.
		a.addRel(n, sc)
	case *pg_query.LockingClause:
		// FOR UPDATE OF names FROM items, not tables.
		a.locking = true
	case *pg_query.FuncCall:
		a.funcs = true
		switch names := nameList(n.Funcname); names[len(names)-1] {
		case "nextval", "currval", "setval", "lastval":
			a.sequences = true
		}
		if n.Over == nil && classify(n) == funcUnknown {
			a.unknownFuncs = true
		}
		forEachChild(n, func(c proto.Message) { a.visit(c, sc) })
	case *pg_query.ColumnRef:
		if len(n.Fields) > 0 {
			switch stringValue(n.Fields[len(n.Fields)-1]) {
			case "ctid", "xmin", "xmax", "cmin", "cmax", "tableoid":
				a.systemColumns = true
			}
		}
	case *pg_query.SQLValueFunction:
		a.funcs = true
	default:
		forEachChild(n, func(c proto.Message) { a.visit(c, sc) })
	}
}

func (a *analysis) visitNodes(nodes []*pg_query.Node, sc *cteScope) {
	for _, n := range nodes {
		a.visit(unwrap(n), sc)
	}
}

// withClause analyzes the WITH queries and returns the scope the rest of
// the statement sees. A non-recursive WITH query sees only the ones before
// it; a recursive one sees all.
func (a *analysis) withClause(w *pg_query.WithClause, sc *cteScope) *cteScope {
	if w == nil {
		return sc
	}
	var names []string
	for _, n := range w.Ctes {
		if cte, ok := unwrap(n).(*pg_query.CommonTableExpr); ok {
			names = append(names, cte.Ctename)
		}
	}
	for i, n := range w.Ctes {
		cte, ok := unwrap(n).(*pg_query.CommonTableExpr)
		if !ok {
			continue
		}
		inner := sc.with(names[:i]...)
		if w.Recursive {
			inner = sc.with(names...)
		}
		a.visit(unwrap(cte.Ctequery), inner)
	}
	return sc.with(names...)
}

// level is one FROM list with the tables it names.
type level struct {
	rels []*relRef
	// others counts FROM items that are not tables (subqueries,
	// functions, VALUES): they may supply columns too.
	others int
}

func (a *analysis) selectStmt(s *pg_query.SelectStmt, sc *cteScope) {
	a.depth++
	defer func() { a.depth-- }()
	sc = a.withClause(s.WithClause, sc)
	if s.IntoClause != nil {
		a.selectInto = true
	}
	if len(s.LockingClause) > 0 {
		a.locking = true
	}
	if s.Larg != nil || s.Rarg != nil {
		a.selectStmt(s.Larg, sc)
		a.selectStmt(s.Rarg, sc)
		a.visitNodes(s.SortClause, sc)
		a.visit(unwrap(s.LimitCount), sc)
		a.visit(unwrap(s.LimitOffset), sc)
		return
	}
	var lvl level
	for _, f := range s.FromClause {
		a.fromItem(f, &lvl, sc)
	}
	a.applyPins(a.qualPins(s.WhereClause, lvl.rels), lvl.rels)
	a.pushDown(s.WhereClause, lvl.rels, a.depth == 1 && len(lvl.rels) == 1 && lvl.others == 0, false)
	a.visit(unwrap(s.WhereClause), sc)
	a.visitNodes(s.TargetList, sc)
	a.visitNodes(s.DistinctClause, sc)
	a.visitNodes(s.GroupClause, sc)
	a.visit(unwrap(s.HavingClause), sc)
	a.visitNodes(s.WindowClause, sc)
	a.visitNodes(s.ValuesLists, sc)
	a.visitNodes(s.SortClause, sc)
	a.visit(unwrap(s.LimitCount), sc)
	a.visit(unwrap(s.LimitOffset), sc)
}

// fromItem adds the tables of one FROM item to lvl and returns them.
func (a *analysis) fromItem(n *pg_query.Node, lvl *level, sc *cteScope) []*relRef {
	switch x := unwrap(n).(type) {
	case *pg_query.RangeVar:
		r := a.addRel(x, sc)
		if r == nil {
			lvl.others++ // a WITH query
			return nil
		}
		lvl.rels = append(lvl.rels, r)
		return []*relRef{r}
	case *pg_query.JoinExpr:
		left := a.fromItem(x.Larg, lvl, sc)
		right := a.fromItem(x.Rarg, lvl, sc)
		all := append(append([]*relRef(nil), left...), right...)
		switch x.Jointype {
		case pg_query.JoinType_JOIN_LEFT:
			markNullable(right)
		case pg_query.JoinType_JOIN_RIGHT:
			markNullable(left)
		case pg_query.JoinType_JOIN_FULL:
			markNullable(all)
		}
		if x.Quals != nil {
			// The ON condition filters rows only on the side(s) it can
			// remove: both for an inner join, the nullable side of an
			// outer join. Its unqualified names resolve within the join.
			pins := a.qualPins(x.Quals, all)
			switch x.Jointype {
			case pg_query.JoinType_JOIN_INNER:
				a.applyPins(pins, all)
				a.pushDown(x.Quals, all, false, false)
			case pg_query.JoinType_JOIN_LEFT:
				a.applyPins(pins, right)
				a.pushDown(x.Quals, right, false, true)
			case pg_query.JoinType_JOIN_RIGHT:
				a.applyPins(pins, left)
				a.pushDown(x.Quals, left, false, true)
			}
			a.visit(unwrap(x.Quals), sc)
		}
		if x.Alias != nil {
			for _, r := range all {
				r.hidden = true
			}
		}
		return all
	case *pg_query.RangeTableSample:
		rels := a.fromItem(x.Relation, lvl, sc)
		a.visitNodes(x.Args, sc)
		a.visit(unwrap(x.Repeatable), sc)
		return rels
	default:
		lvl.others++
		a.visit(unwrap(n), sc)
		return nil
	}
}

func markNullable(rels []*relRef) {
	for _, r := range rels {
		r.nullable = true
	}
}

// applyPins narrows the pins of the given tables with the pins of a
// condition that filters their rows.
func (a *analysis) applyPins(pins map[*relRef]*Pin, to []*relRef) {
	for _, r := range to {
		p, ok := pins[r]
		if !ok {
			continue
		}
		if r.pin == nil || len(p.Values) < len(r.pin.Values) {
			r.pin = p
		}
	}
}

func (a *analysis) insertStmt(s *pg_query.InsertStmt, sc *cteScope) {
	sc = a.withClause(s.WithClause, sc)
	if r := a.addRel(s.Relation, sc); r != nil {
		r.write = true
	}
	a.visit(unwrap(s.SelectStmt), sc)
	a.visit(s.OnConflictClause, sc)
	a.visitNodes(s.ReturningList, sc)
}

func (a *analysis) updateStmt(s *pg_query.UpdateStmt, sc *cteScope) {
	sc = a.withClause(s.WithClause, sc)
	a.writeWithWhere(s.Relation, s.FromClause, s.WhereClause, sc)
	a.visitNodes(s.TargetList, sc)
	a.visitNodes(s.ReturningList, sc)
}

func (a *analysis) deleteStmt(s *pg_query.DeleteStmt, sc *cteScope) {
	sc = a.withClause(s.WithClause, sc)
	a.writeWithWhere(s.Relation, s.UsingClause, s.WhereClause, sc)
	a.visitNodes(s.ReturningList, sc)
}

// writeWithWhere analyzes the level of an UPDATE or DELETE: its target, the
// FROM/USING tables and the WHERE that filters them all.
func (a *analysis) writeWithWhere(rel *pg_query.RangeVar, from []*pg_query.Node, where *pg_query.Node, sc *cteScope) {
	var lvl level
	if r := a.addRel(rel, sc); r != nil {
		r.write = true
		lvl.rels = append(lvl.rels, r)
	}
	for _, f := range from {
		a.fromItem(f, &lvl, sc)
	}
	a.applyPins(a.qualPins(where, lvl.rels), lvl.rels)
	a.visit(unwrap(where), sc)
}

// readOnly reports whether a replica may answer the statement: it takes no
// row lock and calls no function that might write or depend on the node.
func (a *analysis) readOnly() bool {
	return !a.unknownFuncs && !a.sequences && !a.locking
}

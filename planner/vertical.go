package planner

import (
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// A vertically partitioned table is one logical table whose columns live
// in several physical tables (its groups), each holding the key. The
// planner rewrites every statement naming it into statements on the
// groups, then plans those as it plans any other:
//
//   - a read of the table becomes a read of the one group holding every
//     column the statement names, or of a join of the groups it needs on
//     the key (co-located groups join inside each cluster; groups placed
//     apart join where any join of different distributions does);
//   - INSERT inserts each row's columns into every group, UPDATE and
//     DELETE change every group they touch, in one transaction;
//   - DDL creates, changes or drops each group's table.

// groupAlias names a group's table inside a rewritten read.
const groupAlias = "_sqlrouter_g"

// verticalTable returns the vertically partitioned table a RangeVar names.
func (c *Context) verticalTable(rv *pg_query.RangeVar, ctes map[string]bool) *shardmap.Table {
	if rv == nil || (rv.Schemaname == "" && ctes[rv.Relname]) {
		return nil
	}
	t := c.lookupTable(rv.Schemaname, rv.Relname)
	if t == nil || t.Vertical == nil {
		return nil
	}
	return t
}

// cteNames lists every WITH query name of a statement: a name they shadow
// is not the table.
func cteNames(stmt proto.Message) map[string]bool {
	out := map[string]bool{}
	inspect(stmt, func(m proto.Message) bool {
		if cte, ok := m.(*pg_query.CommonTableExpr); ok {
			out[cte.Ctename] = true
		}
		return true
	})
	return out
}

// namesVertical reports whether a statement names a vertically
// partitioned table anywhere.
func (c *Context) namesVertical(stmt proto.Message, ctes map[string]bool) bool {
	found := false
	inspect(stmt, func(m proto.Message) bool {
		if rv, ok := m.(*pg_query.RangeVar); ok && c.verticalTable(rv, ctes) != nil {
			found = true
		}
		return !found
	})
	if found {
		return true
	}
	// DROP, COMMENT and friends name tables by lists of strings.
	for _, n := range objectNames(stmt) {
		if t := c.lookupTable(n.schema, n.name); t != nil && t.Vertical != nil {
			return true
		}
	}
	return false
}

// planVertical plans a statement that names a vertically partitioned
// table; ok is false when it names none.
func planVertical(ctx *Context, raw *pg_query.RawStmt, sql string) (Plan, bool, error) {
	stmt := unwrap(raw.Stmt)
	if stmt == nil {
		return nil, false, nil
	}
	ctes := cteNames(stmt)
	if !ctx.namesVertical(stmt, ctes) {
		return nil, false, nil
	}
	stmt = proto.Clone(stmt)
	var p Plan
	var err error
	switch s := stmt.(type) {
	case *pg_query.InsertStmt:
		if t := ctx.verticalTable(s.Relation, ctes); t != nil {
			p, err = planVerticalInsert(ctx, t, s, sql)
			return p, true, err
		}
	case *pg_query.UpdateStmt:
		if t := ctx.verticalTable(s.Relation, ctes); t != nil {
			p, err = planVerticalUpdate(ctx, t, s, sql)
			return p, true, err
		}
	case *pg_query.DeleteStmt:
		if t := ctx.verticalTable(s.Relation, ctes); t != nil {
			p, err = planVerticalDelete(ctx, t, s, sql)
			return p, true, err
		}
	case *pg_query.CopyStmt:
		if t := ctx.verticalTable(s.Relation, ctes); t != nil {
			if s.Filename != "" || s.IsProgram {
				return nil, true, pgerror.Unsupported("COPY of vertically partitioned table %s to or from a server file or program is not supported", verticalName(t)).
					WithHint("Use COPY ... FROM STDIN or TO STDOUT (psql's \\copy).")
			}
			if s.IsFrom {
				p, err = planVerticalCopyIn(ctx, t, s, sql)
				return p, true, err
			}
			// COPY t TO: the same rows as COPY (SELECT columns FROM t).
			s.Query = &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: selectColumns(t, s.Relation, s.Attlist)}}
			s.Relation, s.Attlist = nil, nil
		}
	case *pg_query.SelectStmt, *pg_query.ExplainStmt, *pg_query.DeclareCursorStmt:
	default:
		p, err = planVerticalDDL(ctx, stmt, ctes, sql)
		return p, true, err
	}
	// A statement that reads the table: its reads become reads of the
	// groups, and the result is planned like any statement.
	rw := &verticalReads{ctx: ctx, ctes: ctes}
	rw.rewrite(stmt)
	if rw.err != nil {
		return nil, true, rw.err
	}
	text, err := deparseAny(ctx, stmt)
	if err != nil {
		return nil, true, err
	}
	p, err = planStatement(ctx, &pg_query.RawStmt{Stmt: wrapNode(stmt)}, text)
	markRewritten(p)
	return p, true, err
}

// wrapNode wraps a statement in the pg_query.Node that holds its type.
func wrapNode(stmt proto.Message) *pg_query.Node {
	node := &pg_query.Node{}
	m := node.ProtoReflect()
	fd := m.Descriptor().Oneofs().Get(0).Fields()
	for i := range fd.Len() {
		f := fd.Get(i)
		if f.Message() != nil && f.Message().FullName() == stmt.ProtoReflect().Descriptor().FullName() {
			m.Set(f, protoValueOf(stmt))
			break
		}
	}
	return node
}

// markRewritten makes a plan that runs a statement's text run the
// rewritten text instead.
func markRewritten(p Plan) {
	switch p := p.(type) {
	case *Route:
		p.rewritten = true
	case *Broadcast:
		p.rewritten = true
	case *FanOut:
		p.rewritten = true
	case *ExplainPlan:
		markRewritten(p.Inner)
	}
}

// RewrittenSQL returns the text a plan runs in place of the statement's
// own, when the planner rewrote it (statements on vertically partitioned
// tables).
func RewrittenSQL(p Plan) (string, bool) {
	switch p := p.(type) {
	case *Route:
		return p.SQL, p.rewritten
	case *Broadcast:
		return p.SQL, p.rewritten
	case *FanOut:
		return p.SQL, p.rewritten
	}
	return "", false
}

// verticalReads rewrites the reads of vertically partitioned tables.
type verticalReads struct {
	ctx  *Context
	ctes map[string]bool
	err  error
}

func (v *verticalReads) rewrite(stmt proto.Message) {
	inspect(stmt, func(m proto.Message) bool {
		switch s := m.(type) {
		case *pg_query.SelectStmt:
			v.level(stmt, s.FromClause, s.WhereClause)
		case *pg_query.UpdateStmt:
			v.level(stmt, s.FromClause, s.WhereClause)
		case *pg_query.DeleteStmt:
			v.level(stmt, s.UsingClause, s.WhereClause)
		}
		return v.err == nil
	})
}

// level rewrites the FROM items of one query level.
func (v *verticalReads) level(stmt proto.Message, from []*pg_query.Node, where *pg_query.Node) {
	for i, n := range from {
		from[i] = v.item(stmt, n, where, len(from) == 1)
	}
}

func (v *verticalReads) item(stmt proto.Message, n *pg_query.Node, where *pg_query.Node, single bool) *pg_query.Node {
	switch x := unwrap(n).(type) {
	case *pg_query.RangeVar:
		if t := v.ctx.verticalTable(x, v.ctes); t != nil {
			return v.replace(stmt, x, t, where, single, nil)
		}
	case *pg_query.JoinExpr:
		for _, side := range []**pg_query.Node{&x.Larg, &x.Rarg} {
			if rv, ok := unwrap(*side).(*pg_query.RangeVar); ok {
				if t := v.ctx.verticalTable(rv, v.ctes); t != nil {
					var using []string
					if x.IsNatural {
						using = t.Columns()
					}
					using = append(using, nameList(x.UsingClause)...)
					*side = v.replace(stmt, rv, t, where, false, using)
					continue
				}
			}
			*side = v.item(stmt, *side, where, false)
		}
	case *pg_query.RangeTableSample:
		if rv, ok := unwrap(x.Relation).(*pg_query.RangeVar); ok && v.ctx.verticalTable(rv, v.ctes) != nil {
			v.err = pgerror.Unsupported("TABLESAMPLE of vertically partitioned table %s is not supported", rv.Relname)
		}
	}
	return n
}

// replace makes what a read of the table becomes: its one group renamed,
// or a join of its groups on the key.
func (v *verticalReads) replace(stmt proto.Message, rv *pg_query.RangeVar, t *shardmap.Table, where *pg_query.Node, single bool, using []string) *pg_query.Node {
	ref := rv.Relname
	if rv.Alias != nil {
		ref = rv.Alias.Aliasname
	}
	needed := neededColumns(stmt, t, ref)
	for _, c := range using {
		needed[c] = true
	}
	var colnames []*pg_query.Node
	if rv.Alias != nil && len(rv.Alias.Colnames) > 0 {
		colnames = rv.Alias.Colnames
		for _, c := range t.Columns() {
			needed[c] = true // positions must be the table's
		}
	}
	groups := groupsFor(t, needed)
	if len(groups) == 1 && colnames == nil {
		g := groups[0]
		return &pg_query.Node{Node: &pg_query.Node_RangeVar{RangeVar: &pg_query.RangeVar{Schemaname: g.Schema, Relname: g.Name, Inh: rv.Inh,
			Relpersistence: "p", Alias: &pg_query.Alias{Aliasname: ref}, Location: rv.Location}}}
	}
	sub := groupJoin(t, groups, keyPins(where, t, ref, single))
	return &pg_query.Node{Node: &pg_query.Node_RangeSubselect{RangeSubselect: &pg_query.RangeSubselect{
		Subquery: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sub}},
		Alias:    &pg_query.Alias{Aliasname: ref, Colnames: colnames},
	}}}
}

// neededColumns lists the table's columns a statement may name through
// the occurrence called ref: its qualified columns, and unqualified names
// of its columns wherever they appear (they may be another table's, but
// reading a group too many is only slower). A star or a whole-row
// reference needs them all.
func neededColumns(stmt proto.Message, t *shardmap.Table, ref string) map[string]bool {
	cols := t.Columns()
	needed := map[string]bool{}
	all := func() {
		for _, c := range cols {
			needed[c] = true
		}
	}
	inspect(stmt, func(m proto.Message) bool {
		cr, ok := m.(*pg_query.ColumnRef)
		if !ok {
			return true
		}
		var names []string
		star := false
		for _, f := range cr.Fields {
			switch x := unwrap(f).(type) {
			case *pg_query.String:
				names = append(names, x.Sval)
			case *pg_query.A_Star:
				star = true
			}
		}
		switch {
		case star && len(names) == 0:
			all()
		case star && names[len(names)-1] == ref:
			all()
		case star:
		case len(names) == 1 && slices.Contains(cols, names[0]):
			needed[names[0]] = true
		case len(names) == 1 && names[0] == ref:
			all()
		case len(names) >= 2 && names[len(names)-2] == ref:
			needed[names[len(names)-1]] = true
		}
		return false
	})
	return needed
}

// groupsFor picks the groups holding the needed columns, in map order; the
// first group when only the key is needed.
func groupsFor(t *shardmap.Table, needed map[string]bool) []*shardmap.VerticalGroup {
	var out []*shardmap.VerticalGroup
	for i := range t.Vertical {
		g := &t.Vertical[i]
		for _, c := range g.Columns {
			if c != t.Key && needed[c] {
				out = append(out, g)
				break
			}
		}
	}
	if len(out) == 0 {
		out = append(out, &t.Vertical[0])
	}
	return out
}

// groupJoin is the read of a table's rows from some of its groups: the key
// and the groups' columns, in the table's order, the groups joined on the
// key, each filtered by the key conditions of the statement.
func groupJoin(t *shardmap.Table, groups []*shardmap.VerticalGroup, pins []*pg_query.Node) *pg_query.SelectStmt {
	alias := func(i int) string { return fmt.Sprintf("%s%d", groupAlias, i+1) }
	owner := map[string]int{}
	for i, g := range groups {
		for _, c := range g.Columns {
			if c != t.Key {
				owner[c] = i
			}
		}
	}
	sel := newSelect()
	for _, c := range t.Columns() {
		i, ok := owner[c]
		if c != t.Key && !ok {
			continue
		}
		sel.TargetList = append(sel.TargetList, resTarget(c, columnRef(alias(i), c)))
	}
	var from *pg_query.Node
	for i, g := range groups {
		rv := &pg_query.Node{Node: &pg_query.Node_RangeVar{RangeVar: &pg_query.RangeVar{Schemaname: g.Schema, Relname: g.Name, Inh: true,
			Relpersistence: "p", Alias: &pg_query.Alias{Aliasname: alias(i)}}}}
		if from == nil {
			from = rv
			continue
		}
		on := &pg_query.Node{Node: &pg_query.Node_AExpr{AExpr: &pg_query.A_Expr{Kind: pg_query.A_Expr_Kind_AEXPR_OP, Name: []*pg_query.Node{str("=")},
			Lexpr: columnRef(alias(i), t.Key), Rexpr: columnRef(alias(0), t.Key)}}}
		from = &pg_query.Node{Node: &pg_query.Node_JoinExpr{JoinExpr: &pg_query.JoinExpr{Jointype: pg_query.JoinType_JOIN_INNER, Larg: from, Rarg: rv, Quals: on}}}
	}
	sel.FromClause = []*pg_query.Node{from}
	var conds []*pg_query.Node
	for i := range groups {
		for _, p := range pins {
			conds = append(conds, withKeyColumn(p, columnRef(alias(i), t.Key)))
		}
	}
	sel.WhereClause = andOf(conds)
	return sel
}

// keyPins returns the conditions of a WHERE that compare the occurrence's
// key with values alone (constants, parameters): copied into the groups'
// reads, they let the planner place them. Such a comparison is false on a
// NULL key, so filtering the groups by it first changes nothing.
func keyPins(where *pg_query.Node, t *shardmap.Table, ref string, single bool) []*pg_query.Node {
	var out []*pg_query.Node
	for _, c := range conjuncts(where) {
		e, ok := unwrap(c).(*pg_query.A_Expr)
		if !ok {
			continue
		}
		switch e.Kind {
		case pg_query.A_Expr_Kind_AEXPR_OP, pg_query.A_Expr_Kind_AEXPR_IN, pg_query.A_Expr_Kind_AEXPR_OP_ANY, pg_query.A_Expr_Kind_AEXPR_BETWEEN:
		default:
			continue
		}
		isKey := func(n *pg_query.Node) bool {
			cr, ok := unwrap(n).(*pg_query.ColumnRef)
			if !ok {
				return false
			}
			names := nameList(cr.Fields)
			switch len(names) {
			case 1:
				return single && names[0] == t.Key
			default:
				return names[len(names)-1] == t.Key && names[len(names)-2] == ref
			}
		}
		if isKey(e.Lexpr) && valueOnly(e.Rexpr) || isKey(e.Rexpr) && valueOnly(e.Lexpr) {
			out = append(out, c)
		}
	}
	return out
}

// valueOnly reports an expression of constants and parameters only.
func valueOnly(n *pg_query.Node) bool {
	ok := true
	inspect(unwrap(n), func(m proto.Message) bool {
		switch m.(type) {
		case *pg_query.ColumnRef, *pg_query.SubLink, *pg_query.FuncCall, *pg_query.SQLValueFunction:
			ok = false
		}
		return ok
	})
	return ok
}

// withKeyColumn copies a key condition with the key column replaced.
func withKeyColumn(cond, key *pg_query.Node) *pg_query.Node {
	c := proto.Clone(cond).(*pg_query.Node)
	e := unwrap(c).(*pg_query.A_Expr)
	if _, ok := unwrap(e.Lexpr).(*pg_query.ColumnRef); ok {
		e.Lexpr = proto.Clone(key).(*pg_query.Node)
	} else {
		e.Rexpr = proto.Clone(key).(*pg_query.Node)
	}
	return c
}

// andOf joins conditions with AND (nil for none).
func andOf(conds []*pg_query.Node) *pg_query.Node {
	switch len(conds) {
	case 0:
		return nil
	case 1:
		return conds[0]
	}
	return &pg_query.Node{Node: &pg_query.Node_BoolExpr{BoolExpr: &pg_query.BoolExpr{Boolop: pg_query.BoolExprType_AND_EXPR, Args: conds}}}
}

// selectColumns is SELECT columns FROM the table, for COPY t TO.
func selectColumns(t *shardmap.Table, rv *pg_query.RangeVar, attlist []*pg_query.Node) *pg_query.SelectStmt {
	cols := t.Columns()
	if len(attlist) > 0 {
		cols = nameList(attlist)
	}
	return selectFrom(cols, rv)
}

// objectName is a table named by a list of strings.
type objectName struct{ schema, name string }

// objectNames lists the tables DROP TABLE and COMMENT name by string
// lists.
func objectNames(stmt proto.Message) []objectName {
	var lists [][]string
	switch s := stmt.(type) {
	case *pg_query.DropStmt:
		if s.RemoveType == pg_query.ObjectType_OBJECT_TABLE {
			for _, o := range s.Objects {
				if l, ok := unwrap(o).(*pg_query.List); ok {
					lists = append(lists, nameList(l.Items))
				}
			}
		}
	case *pg_query.CommentStmt:
		if l, ok := unwrap(s.Object).(*pg_query.List); ok {
			n := nameList(l.Items)
			if s.Objtype == pg_query.ObjectType_OBJECT_COLUMN && len(n) > 1 {
				n = n[:len(n)-1]
			}
			if s.Objtype == pg_query.ObjectType_OBJECT_TABLE || s.Objtype == pg_query.ObjectType_OBJECT_COLUMN {
				lists = append(lists, n)
			}
		}
	}
	var out []objectName
	for _, n := range lists {
		o := objectName{name: n[len(n)-1]}
		if len(n) > 1 {
			o.schema = n[len(n)-2]
		}
		out = append(out, o)
	}
	return out
}

// verticalName names a logical table in messages.
func verticalName(t *shardmap.Table) string { return tableName(t) }

// groupNames lists a table's group tables, for messages.
func groupNames(t *shardmap.Table) string {
	var out []string
	for _, g := range t.Vertical {
		out = append(out, g.Table)
	}
	return strings.Join(out, ", ")
}

// newSelect is an empty SELECT as the parser makes one (no set operation,
// the default LIMIT option: protobuf's zero values mean "undefined").
func newSelect() *pg_query.SelectStmt {
	return &pg_query.SelectStmt{Op: pg_query.SetOperation_SETOP_NONE, LimitOption: pg_query.LimitOption_LIMIT_OPTION_DEFAULT}
}

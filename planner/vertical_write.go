package planner

import (
	"fmt"
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// targetAlias names the group a rewritten UPDATE or DELETE changes, when
// the logical table's name stands for its rows read from several groups.
const targetAlias = "_sqlrouter_t"

// planVerticalInsert splits an INSERT ... VALUES into one INSERT per
// group: each gets the key and its own columns of every row.
func planVerticalInsert(ctx *Context, t *shardmap.Table, s *pg_query.InsertStmt, sql string) (Plan, error) {
	name := verticalName(t)
	sel, _ := unwrap(s.SelectStmt).(*pg_query.SelectStmt)
	switch {
	case s.WithClause != nil:
		return nil, pgerror.Unsupported("WITH in an INSERT into vertically partitioned table %s is not supported", name)
	case s.OnConflictClause != nil:
		return nil, pgerror.Unsupported("INSERT ... ON CONFLICT into vertically partitioned table %s is not supported: each group could resolve the conflict differently", name)
	case sel == nil || len(sel.ValuesLists) == 0 || sel.WithClause != nil || len(sel.SortClause) > 0 || sel.LimitCount != nil || sel.LimitOffset != nil:
		return nil, pgerror.Unsupported("INSERT into vertically partitioned table %s must use VALUES", name).
			WithHint("Insert the rows with VALUES or COPY.")
	}
	cols := t.Columns()
	if len(s.Cols) > 0 {
		cols = nil
		for _, c := range s.Cols {
			rt, ok := unwrap(c).(*pg_query.ResTarget)
			if !ok || len(rt.Indirection) > 0 {
				return nil, pgerror.Unsupported("INSERT into a subfield of a column of vertically partitioned table %s is not supported", name)
			}
			cols = append(cols, rt.Name)
		}
	}
	for _, c := range cols {
		if !slices.Contains(t.Columns(), c) {
			return nil, pgerror.New(pgerror.UndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", c, s.Relation.Relname)
		}
	}
	if !slices.Contains(cols, t.Key) {
		return nil, pgerror.Unsupported("INSERT into distributed table %s must give a value for distribution key %s", name, t.Key)
	}
	ret, err := returningGroup(t, s.ReturningList, refName(s.Relation))
	if err != nil {
		return nil, err
	}
	seq := &Sequence{SQL: sql, Returning: -1}
	for gi := range t.Vertical {
		g := &t.Vertical[gi]
		var keep []int
		ins := &pg_query.InsertStmt{Relation: groupRangeVar(g, s.Relation), Override: s.Override}
		for i, c := range cols {
			if c == t.Key || slices.Contains(g.Columns, c) {
				keep = append(keep, i)
				ins.Cols = append(ins.Cols, &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Name: c}}})
			}
		}
		values := newSelect()
		for _, row := range sel.ValuesLists {
			l, ok := unwrap(row).(*pg_query.List)
			if !ok || len(l.Items) != len(cols) {
				return nil, pgerror.New(pgerror.SyntaxError, "INSERT has more target columns than expressions")
			}
			var items []*pg_query.Node
			for _, i := range keep {
				items = append(items, proto.Clone(l.Items[i]).(*pg_query.Node))
			}
			values.ValuesLists = append(values.ValuesLists, &pg_query.Node{Node: &pg_query.Node_List{List: &pg_query.List{Items: items}}})
		}
		ins.SelectStmt = &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: values}}
		if gi == ret {
			ins.ReturningList = cloneNodes(s.ReturningList)
			seq.Returning = len(seq.Steps)
		}
		step, err := planStep(ctx, "insert into "+g.Table, ins, func(c *Context, sql string) (Plan, error) { return planInsert(c, ins, sql) })
		if err != nil {
			return nil, err
		}
		seq.Steps = append(seq.Steps, step)
	}
	return seq, nil
}

// planStep renumbers a group statement's parameters from $1 and plans it.
func planStep(ctx *Context, what string, stmt proto.Message, plan func(*Context, string) (Plan, error)) (SequenceStep, error) {
	params := renumberParams(stmt)
	sub := *ctx
	sub.ParamOIDs = nil
	for _, n := range params {
		var oid uint32
		if n-1 < len(ctx.ParamOIDs) {
			oid = ctx.ParamOIDs[n-1]
		}
		sub.ParamOIDs = append(sub.ParamOIDs, oid)
	}
	sql, err := deparseAny(ctx, stmt)
	if err != nil {
		return SequenceStep{}, err
	}
	p, err := plan(&sub, sql)
	if err != nil {
		return SequenceStep{}, err
	}
	switch p.(type) {
	case *Route, *SplitInsert, *Broadcast, *FanOut:
	default:
		return SequenceStep{}, pgerror.New(pgerror.InternalError, "unexpected plan %T for %s", p, what)
	}
	return SequenceStep{What: what, Plan: p, Params: params}, nil
}

// returningGroup is the group whose rows a RETURNING list reads (-1 for
// none): every column it names must be in one group.
func returningGroup(t *shardmap.Table, returning []*pg_query.Node, ref string) (int, error) {
	if len(returning) == 0 {
		return -1, nil
	}
	list := &pg_query.SelectStmt{TargetList: returning}
	groups := groupsFor(t, neededColumns(list, t, ref))
	if len(groups) > 1 {
		return 0, pgerror.Unsupported("RETURNING columns of several groups of vertically partitioned table %s (%s) is not supported", verticalName(t), groupNames(t)).
			WithHint("Return columns of one group, or read them with a SELECT in the same transaction.")
	}
	for i := range t.Vertical {
		if &t.Vertical[i] == groups[0] {
			return i, nil
		}
	}
	return 0, nil
}

// groupRangeVar names a group's table where a statement named the logical
// table, keeping the name its columns are qualified with.
func groupRangeVar(g *shardmap.VerticalGroup, rv *pg_query.RangeVar) *pg_query.RangeVar {
	return &pg_query.RangeVar{Schemaname: g.Schema, Relname: g.Name, Inh: rv.Inh, Relpersistence: "p", Alias: &pg_query.Alias{Aliasname: refName(rv)}, Location: rv.Location}
}

func refName(rv *pg_query.RangeVar) string {
	if rv.Alias != nil && rv.Alias.Aliasname != "" {
		return rv.Alias.Aliasname
	}
	return rv.Relname
}

// writeShape is what an UPDATE or DELETE of a vertically partitioned table
// touches.
type writeShape struct {
	t   *shardmap.Table
	ref string
	// set are the groups whose columns an UPDATE assigns; read the groups
	// whose columns it reads (beyond the key).
	set, read []*shardmap.VerticalGroup
	// keyOnly is set when the WHERE reads no column but the key.
	keyOnly bool
}

// planVerticalUpdate plans an UPDATE of a vertically partitioned table:
// on the one group it touches, renamed; on each group it assigns when each
// assignment reads only its own group and WHERE only the key; else as one
// statement whose groups read the table's old rows, joined (co-located
// groups only).
func planVerticalUpdate(ctx *Context, t *shardmap.Table, s *pg_query.UpdateStmt, sql string) (Plan, error) {
	name := verticalName(t)
	if s.WithClause != nil {
		return nil, pgerror.Unsupported("WITH in an UPDATE of vertically partitioned table %s is not supported", name)
	}
	ref := refName(s.Relation)
	byGroup := map[*shardmap.VerticalGroup][]*pg_query.Node{}
	var order []*shardmap.VerticalGroup
	for _, n := range s.TargetList {
		rt, ok := unwrap(n).(*pg_query.ResTarget)
		if !ok {
			continue
		}
		if rt.Name == t.Key {
			return nil, pgerror.Unsupported("UPDATE of distribution key column %s of table %s is not supported", t.Key, name).
				WithHint("Delete the row and insert it with the new key in one transaction.")
		}
		g, ok := t.Group(rt.Name)
		if !ok {
			return nil, pgerror.New(pgerror.UndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", rt.Name, s.Relation.Relname)
		}
		if _, multi := unwrap(rt.Val).(*pg_query.MultiAssignRef); multi {
			return nil, pgerror.Unsupported("UPDATE ... SET (columns) = (...) of vertically partitioned table %s is not supported", name).
				WithHint("Assign each column on its own.")
		}
		if byGroup[g] == nil {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], n)
	}
	readStmt := &pg_query.UpdateStmt{WhereClause: s.WhereClause, FromClause: s.FromClause, ReturningList: s.ReturningList}
	for _, n := range s.TargetList {
		readStmt.TargetList = append(readStmt.TargetList, &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: unwrap(n).(*pg_query.ResTarget).Val}}})
	}
	read := readGroups(t, readStmt, ref)
	touched := union(order, read)
	if len(touched) == 1 {
		return planRenamed(ctx, s, s.Relation, touched[0])
	}
	if !colocatedGroups(touched) && s.FromClause == nil && len(s.ReturningList) == 0 && onlyKey(t, s.WhereClause, ref) && sameEverywhere(s.WhereClause) {
		// Groups placed apart cannot share a snapshot: each changes its
		// own columns, by a condition on the key that selects the same
		// rows in every group.
		independent := true
		for _, g := range order {
			set := &pg_query.SelectStmt{TargetList: byGroup[g]}
			for _, rg := range readGroups(t, set, ref) {
				independent = independent && rg == g
			}
		}
		if independent {
			seq := &Sequence{SQL: sql, Returning: -1}
			for _, g := range order {
				u := &pg_query.UpdateStmt{Relation: groupRangeVar(g, s.Relation), TargetList: cloneNodes(byGroup[g]), WhereClause: cloneNode(s.WhereClause)}
				step, err := planStep(ctx, "update "+g.Table, u, func(c *Context, sql string) (Plan, error) { return planDML(c, u, sql) })
				if err != nil {
					return nil, err
				}
				seq.Steps = append(seq.Steps, step)
			}
			return seq, nil
		}
	}
	if len(s.ReturningList) > 0 {
		return nil, pgerror.Unsupported("UPDATE ... RETURNING of vertically partitioned table %s that reads or sets columns of several groups is not supported", name)
	}
	// One statement: each assigned group is updated from the old rows of
	// the groups read, all in one snapshot.
	var stmts []proto.Message
	check := rowsRead(t, read, ref, s.FromClause, s.WhereClause)
	for _, g := range order {
		u := &pg_query.UpdateStmt{Relation: groupRangeVar(g, s.Relation), FromClause: cloneNodes(s.FromClause)}
		u.Relation.Alias.Aliasname = targetAlias
		for _, n := range byGroup[g] {
			rt := proto.Clone(n).(*pg_query.Node)
			qualifyLogical(rt, t, ref)
			u.TargetList = append(u.TargetList, rt)
			check.TargetList = append(check.TargetList, resTarget("", cloneNode(unwrap(rt).(*pg_query.ResTarget).Val)))
		}
		u.FromClause = append(u.FromClause, logicalRows(t, read, ref, s.WhereClause))
		u.WhereClause = targetJoin(t, ref, s.WhereClause)
		stmts = append(stmts, u)
	}
	return planChained(ctx, t, touched, stmts, check, "UPDATE")
}

// planVerticalDelete plans a DELETE of a vertically partitioned table: a
// DELETE from each group when WHERE reads only the key; else one
// statement deleting from every group the rows the old rows select
// (co-located groups only).
func planVerticalDelete(ctx *Context, t *shardmap.Table, s *pg_query.DeleteStmt, sql string) (Plan, error) {
	name := verticalName(t)
	if s.WithClause != nil {
		return nil, pgerror.Unsupported("WITH in a DELETE of vertically partitioned table %s is not supported", name)
	}
	ref := refName(s.Relation)
	all := make([]*shardmap.VerticalGroup, len(t.Vertical))
	for i := range t.Vertical {
		all[i] = &t.Vertical[i]
	}
	if !colocatedGroups(all) && len(s.UsingClause) == 0 && onlyKey(t, s.WhereClause, ref) && sameEverywhere(s.WhereClause) {
		// Groups placed apart cannot share a snapshot: each deletes the
		// rows of a condition on the key that selects the same rows in
		// every group.
		ret, err := returningGroup(t, s.ReturningList, ref)
		if err != nil {
			return nil, err
		}
		seq := &Sequence{SQL: sql, Returning: -1}
		for gi, g := range all {
			d := &pg_query.DeleteStmt{Relation: groupRangeVar(g, s.Relation), WhereClause: cloneNode(s.WhereClause)}
			if gi == ret {
				d.ReturningList = cloneNodes(s.ReturningList)
				seq.Returning = len(seq.Steps)
			}
			step, err := planStep(ctx, "delete from "+g.Table, d, func(c *Context, sql string) (Plan, error) { return planDML(c, d, sql) })
			if err != nil {
				return nil, err
			}
			seq.Steps = append(seq.Steps, step)
		}
		return seq, nil
	}
	// One statement, one snapshot: every group deletes the rows the old
	// rows of the table select, and RETURNING reads those old rows.
	returning, err := logicalReturning(t, s.ReturningList, ref, len(s.UsingClause) > 0)
	if err != nil {
		return nil, err
	}
	read := readGroups(t, &pg_query.DeleteStmt{WhereClause: s.WhereClause, UsingClause: s.UsingClause, ReturningList: s.ReturningList}, ref)
	check := rowsRead(t, read, ref, s.UsingClause, s.WhereClause)
	for _, n := range returning {
		check.TargetList = append(check.TargetList, resTarget("", cloneNode(unwrap(n).(*pg_query.ResTarget).Val)))
	}
	var stmts []proto.Message
	for _, g := range all {
		d := &pg_query.DeleteStmt{Relation: groupRangeVar(g, s.Relation), UsingClause: cloneNodes(s.UsingClause)}
		d.Relation.Alias.Aliasname = targetAlias
		d.UsingClause = append(d.UsingClause, logicalRows(t, read, ref, s.WhereClause))
		d.WhereClause = targetJoin(t, ref, s.WhereClause)
		if len(stmts) == 0 {
			d.ReturningList = returning
		}
		stmts = append(stmts, d)
	}
	return planChained(ctx, t, all, stmts, check, "DELETE")
}

// planChained plans the statements of several groups as one: all but the
// first as data-modifying WITH queries of the first, so that they share
// one snapshot. The groups must be co-located for it to run anywhere. It
// runs on the cluster of its key conditions or, when the rows lie on
// several clusters, on each of them when check (the rows the statement
// reads to decide, as a SELECT) decomposes by cluster: every row a
// cluster changes is then decided by rows it holds.
func planChained(ctx *Context, t *shardmap.Table, involved []*shardmap.VerticalGroup, stmts []proto.Message, check *pg_query.SelectStmt, kind string) (Plan, error) {
	if !colocatedGroups(involved) {
		return nil, pgerror.Unsupported("this change of vertically partitioned table %s reads and writes groups placed on different clusters (%s) in one statement, which is not supported", verticalName(t), groupNames(t)).
			WithHint("Filter the rows by the key only, or change one group per statement.")
	}
	main := stmts[0]
	var with []*pg_query.Node
	for i, m := range stmts[1:] {
		with = append(with, &pg_query.Node{Node: &pg_query.Node_CommonTableExpr{CommonTableExpr: &pg_query.CommonTableExpr{
			Ctename: fmt.Sprintf("%s_%d", targetAlias, i+1), Ctequery: wrapNode(m)}}})
	}
	if len(with) > 0 {
		w := &pg_query.WithClause{Ctes: with}
		switch m := main.(type) {
		case *pg_query.UpdateStmt:
			m.WithClause = w
		case *pg_query.DeleteStmt:
			m.WithClause = w
		}
	}
	// Subqueries and FROM items may read vertically partitioned tables
	// too (the table itself, say).
	for _, m := range []proto.Message{main, check} {
		rw := &verticalReads{ctx: ctx, ctes: cteNames(m)}
		if rw.rewrite(m); rw.err != nil {
			return nil, rw.err
		}
	}
	text, err := deparseAny(ctx, main)
	if err != nil {
		return nil, err
	}
	fanOut := func() *FanOut {
		if len(check.TargetList) == 0 {
			check.TargetList = []*pg_query.Node{resTarget("", &pg_query.Node{Node: &pg_query.Node_AConst{AConst: &pg_query.A_Const{Val: &pg_query.A_Const_Ival{Ival: &pg_query.Integer{Ival: 1}}}}})}
		}
		p, ok, err := planScatter(ctx, check, text)
		sc, isScatter := p.(*Scatter)
		if err != nil || !ok || !isScatter {
			return nil
		}
		return &FanOut{SQL: text, Target: sc.Target, Reason: fmt.Sprintf("%s of every group of %s on every cluster that holds its rows", kind, verticalName(t)), rewritten: true}
	}
	a := newAnalysis(ctx)
	a.visit(main, nil)
	if a.err != nil {
		return nil, a.err
	}
	if _, err := routeFor(ctx, a, text, true); spansClusters(err) {
		if f := fanOut(); f != nil {
			return f, nil
		}
		return nil, pgerror.Unsupported("%s of vertically partitioned table %s over several clusters is not supported when deciding which rows change reads rows of other clusters", kind, verticalName(t)).
			WithHint("Restrict the statement to one cluster with a condition on %s, or read the values it needs first.", t.Key)
	}
	p, err := planDML(ctx, main, text)
	if err != nil {
		return nil, err
	}
	if r, ok := p.(*Route); ok && r.Spread == nil && mayChooseSeveral(r.Target) {
		if f := fanOut(); f != nil {
			r.Spread = f
		}
	}
	markRewritten(p)
	return p, nil
}

// colocatedGroups reports whether groups share one distribution: their
// rows of one key live on one cluster.
func colocatedGroups(groups []*shardmap.VerticalGroup) bool {
	for _, g := range groups {
		if g.Distribution != groups[0].Distribution {
			return false
		}
	}
	return true
}

// sameEverywhere reports a condition that selects the same rows whenever
// it runs: no subquery, no function call.
func sameEverywhere(n *pg_query.Node) bool {
	ok := true
	inspect(unwrap(n), func(m proto.Message) bool {
		switch m.(type) {
		case *pg_query.SubLink, *pg_query.FuncCall, *pg_query.SQLValueFunction:
			ok = false
		}
		return ok
	})
	return ok
}

// rowsRead is the read a change of several groups decides by: the old
// rows of the table (from the groups it reads) and the statement's own
// FROM items, filtered by its condition.
func rowsRead(t *shardmap.Table, read []*shardmap.VerticalGroup, ref string, from []*pg_query.Node, where *pg_query.Node) *pg_query.SelectStmt {
	sel := newSelect()
	sel.FromClause = append(cloneNodes(from), logicalRows(t, read, ref, where))
	sel.WhereClause = qualified(where, t, ref)
	return sel
}

// logicalReturning is a RETURNING list over the old rows of the table,
// named ref: its columns qualified, a bare * made ref.*.
func logicalReturning(t *shardmap.Table, list []*pg_query.Node, ref string, using bool) ([]*pg_query.Node, error) {
	out := cloneNodes(list)
	for _, n := range out {
		rt, ok := unwrap(n).(*pg_query.ResTarget)
		if !ok {
			continue
		}
		if cr, ok := unwrap(rt.Val).(*pg_query.ColumnRef); ok && len(cr.Fields) == 1 {
			if _, star := unwrap(cr.Fields[0]).(*pg_query.A_Star); star {
				if using {
					return nil, pgerror.Unsupported("DELETE ... USING ... RETURNING * of vertically partitioned table %s is not supported", verticalName(t)).
						WithHint("List the returned columns.")
				}
				cr.Fields = []*pg_query.Node{str(ref), cr.Fields[0]}
			}
		}
		qualifyLogical(n, t, ref)
	}
	return out, nil
}

// planRenamed plans a change that touches one group: the same statement on
// the group's table.
func planRenamed(ctx *Context, stmt proto.Message, rv *pg_query.RangeVar, g *shardmap.VerticalGroup) (Plan, error) {
	*rv = *groupRangeVar(g, rv)
	rw := &verticalReads{ctx: ctx, ctes: cteNames(stmt)}
	rw.rewrite(stmt)
	if rw.err != nil {
		return nil, rw.err
	}
	text, err := deparseAny(ctx, stmt)
	if err != nil {
		return nil, err
	}
	p, err := planDML(ctx, stmt, text)
	if err != nil {
		return nil, err
	}
	markRewritten(p)
	return p, nil
}

// readGroups lists the groups whose columns a statement's expressions
// read through the occurrence ref (none when it reads only the key).
func readGroups(t *shardmap.Table, stmt proto.Message, ref string) []*shardmap.VerticalGroup {
	needed := neededColumns(stmt, t, ref)
	delete(needed, t.Key)
	if len(needed) == 0 {
		return nil
	}
	return groupsFor(t, needed)
}

// onlyKey reports whether a condition reads no column of the table but
// its key.
func onlyKey(t *shardmap.Table, where *pg_query.Node, ref string) bool {
	return len(readGroups(t, &pg_query.SelectStmt{WhereClause: where}, ref)) == 0
}

func union(a, b []*shardmap.VerticalGroup) []*shardmap.VerticalGroup {
	out := slices.Clone(a)
	for _, g := range b {
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// logicalRows is the old rows of the table, read from the groups a change
// reads (the first group when it reads only the key), under the name the
// statement gives the table.
func logicalRows(t *shardmap.Table, read []*shardmap.VerticalGroup, ref string, where *pg_query.Node) *pg_query.Node {
	if len(read) == 0 {
		read = []*shardmap.VerticalGroup{&t.Vertical[0]}
	}
	q := qualified(where, t, ref)
	sub := groupJoin(t, read, keyPins(q, t, ref, false))
	return &pg_query.Node{Node: &pg_query.Node_RangeSubselect{RangeSubselect: &pg_query.RangeSubselect{
		Subquery: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sub}},
		Alias:    &pg_query.Alias{Aliasname: ref},
	}}}
}

// targetJoin is the WHERE of a group's change: its rows are those of the
// old rows the statement's condition selects, joined on the key, with the
// key conditions repeated on the group so that the planner can place it.
func targetJoin(t *shardmap.Table, ref string, where *pg_query.Node) *pg_query.Node {
	q := qualified(where, t, ref)
	conds := []*pg_query.Node{{Node: &pg_query.Node_AExpr{AExpr: &pg_query.A_Expr{Kind: pg_query.A_Expr_Kind_AEXPR_OP, Name: []*pg_query.Node{str("=")},
		Lexpr: columnRef(targetAlias, t.Key), Rexpr: columnRef(ref, t.Key)}}}}
	for _, p := range keyPins(q, t, ref, false) {
		conds = append(conds, withKeyColumn(p, columnRef(targetAlias, t.Key)))
	}
	if q != nil {
		conds = append(conds, q)
	}
	return andOf(conds)
}

// qualified copies an expression with the table's unqualified columns
// qualified by ref: in a group's change, the target group also has them.
func qualified(n *pg_query.Node, t *shardmap.Table, ref string) *pg_query.Node {
	if n == nil {
		return nil
	}
	c := proto.Clone(n).(*pg_query.Node)
	qualifyLogical(c, t, ref)
	return c
}

// qualifyLogical qualifies, in place, the table's unqualified columns.
// Subqueries are left alone: there a name may be a column of their own
// tables, which PostgreSQL looks at first (an outer column named there
// without its table is then ambiguous, an error, never another column).
func qualifyLogical(n *pg_query.Node, t *shardmap.Table, ref string) {
	cols := t.Columns()
	inspect(n, func(m proto.Message) bool {
		switch x := m.(type) {
		case *pg_query.SubLink:
			if x.Testexpr != nil {
				qualifyLogical(x.Testexpr, t, ref) // of this level
			}
			return false
		case *pg_query.ColumnRef:
			if len(x.Fields) == 1 {
				if name := stringValue(x.Fields[0]); slices.Contains(cols, name) {
					x.Fields = []*pg_query.Node{str(ref), str(name)}
				}
			}
		}
		return true
	})
}

func cloneNode(n *pg_query.Node) *pg_query.Node {
	if n == nil {
		return nil
	}
	return proto.Clone(n).(*pg_query.Node)
}

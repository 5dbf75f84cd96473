package planner

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgproto3"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// Scatter runs one query on several clusters and merges their answers in
// the router: concatenated, or merged in the order of ORDER BY, with OFFSET
// and LIMIT applied to the merged stream. The planner chooses it when
// every row of the answer comes from one cluster's rows alone: the tables
// are co-located and joined on their keys (or reference tables joined to
// them), and groups, if any, are by the distribution key.
type Scatter struct {
	SQL string
	// Worker is what each cluster runs: the statement with each sort key
	// and its collation added as trailing hidden columns, OFFSET removed
	// and LIMIT raised by the offset.
	Worker string
	// Params maps Worker's $i+1 to the statement's parameter Params[i].
	Params []int
	Target Target
	// Sort lists the ORDER BY keys, in order; key i is hidden column i
	// after the visible columns.
	Sort []SortKey
	// Hidden is the number of trailing hidden columns.
	Hidden int
	// Limit and Offset, when set, apply to the merged rows.
	Limit, Offset *Count
	// ReadOnly is true when the worker calls no function that might
	// write: replicas may answer it.
	ReadOnly bool

	// Fallback runs the statement when a sort key's order depends on a
	// collation the router cannot tell from the result (an expression over
	// text columns).
	Fallback Plan

	// Shape is the executor's cache of the worker's row description
	// (checked against every execution's).
	Shape atomic.Pointer[[]pgproto3.FieldDescription]
}

// SortKey is one ORDER BY key.
type SortKey struct {
	Desc       bool
	NullsFirst bool
	// Collate is the key's explicit COLLATE clause (SQL, e.g. "C"), if
	// any.
	Collate string
	// Column is set when the key is a plain column, whose collation the
	// catalog tells.
	Column bool
}

// Count is a LIMIT or OFFSET: a constant or a parameter.
type Count struct {
	Const int64
	Param int // 1-based; 0 for a constant
}

func (c *Count) String() string {
	if c.Param > 0 {
		return fmt.Sprintf("$%d", c.Param)
	}
	return fmt.Sprint(c.Const)
}

func (sc *Scatter) explain(b *strings.Builder) {
	switch {
	case len(sc.Sort) > 0:
		var keys []string
		for i, k := range sc.Sort {
			s := fmt.Sprintf("key%d", i+1)
			if k.Desc {
				s += " DESC"
			}
			if k.NullsFirst != k.Desc {
				if k.NullsFirst {
					s += " NULLS FIRST"
				} else {
					s += " NULLS LAST"
				}
			}
			keys = append(keys, s)
		}
		fmt.Fprintf(b, "Merge sorted by %s", strings.Join(keys, ", "))
	default:
		b.WriteString("Concatenate")
	}
	if sc.Offset != nil {
		fmt.Fprintf(b, ", offset %s", sc.Offset)
	}
	if sc.Limit != nil {
		fmt.Fprintf(b, ", limit %s", sc.Limit)
	}
	fmt.Fprintf(b, "\n  Scatter: %s\n    %s\n", sc.Target.String(), sc.Worker)
	if sc.Fallback != nil {
		b.WriteString("  when a key sorts by a collation:\n")
		for _, line := range strings.Split(Explain(sc.Fallback), "\n") {
			b.WriteString("    " + line + "\n")
		}
	}
}

// planScatter plans a read as a Scatter when its rows decompose by
// cluster; ok is false when they may not (the statement then runs as a
// Finish).
func planScatter(ctx *Context, stmt proto.Message, sql string) (Plan, bool, error) {
	s0, isSelect := stmt.(*pg_query.SelectStmt)
	if !isSelect {
		return nil, false, nil
	}
	s := proto.Clone(s0).(*pg_query.SelectStmt)
	if s.Op != pg_query.SetOperation_SETOP_NONE || s.IntoClause != nil ||
		len(s.LockingClause) > 0 || len(s.ValuesLists) > 0 || len(s.DistinctClause) > 0 ||
		s.LimitOption == pg_query.LimitOption_LIMIT_OPTION_WITH_TIES {
		return nil, false, nil
	}
	a := newAnalysis(ctx)
	a.visit(s, nil)
	if a.err != nil {
		return nil, false, a.err
	}
	if len(a.unmapped) > 0 || a.systemColumns || a.sequences || a.catalog {
		return nil, false, nil
	}
	var top []*relRef
	var d *shardmap.Distribution
	for _, r := range a.all {
		if r.depth == 1 {
			top = append(top, r)
		}
		if r.table == nil || r.table.Vertical != nil {
			return nil, false, nil
		}
		if !r.distributed() {
			continue
		}
		if d != nil && r.table.Distribution != d {
			return nil, false, nil
		}
		d = r.table.Distribution
	}
	if d == nil {
		return nil, false, nil
	}
	// Each row of the FROM list must come from one cluster's rows; the
	// pin of a table every row needs bounds the clusters.
	best, ok := colocatedRead(a, s)
	if !ok {
		return nil, false, nil
	}
	calls := topLevelCalls(s)
	target := pinTarget(best, d)
	grouped := calls.aggregates || len(s.GroupClause) > 0 || s.HavingClause != nil
	if grouped && !groupedByKey(a, s, top) {
		if calls.unknown {
			return nil, false, nil
		}
		// Groups span clusters: partial aggregates, combined at the
		// coordinator.
		p, ok, err := planCombine(ctx, s, target, sql)
		if c, isCombine := p.(*Combine); isCombine {
			c.ReadOnly = a.readOnly()
		}
		return p, ok, err
	}
	if calls.unknown || calls.grouping || ((calls.windows || len(s.WindowClause) > 0) && !windowsByKey(a, s, top)) {
		return nil, false, nil
	}
	sc := &Scatter{SQL: sql, Target: target, ReadOnly: a.readOnly()}
	ok, err := sc.build(ctx, s)
	if !ok || err != nil {
		return nil, false, err
	}
	for _, k := range sc.Sort {
		if !k.Column && k.Collate == "" {
			if sc.Fallback, err = planFinish(ctx, s0, sql); err != nil {
				sc.Fallback = nil // text keys of expressions will be refused
			}
			break
		}
	}
	return sc, true, nil
}

// build makes the worker query and the merge from the statement (a clone
// it may change).
func (sc *Scatter) build(ctx *Context, s *pg_query.SelectStmt) (bool, error) {
	star := false
	for _, t := range s.TargetList {
		if rt, ok := unwrap(t).(*pg_query.ResTarget); ok {
			if cr, ok := unwrap(rt.Val).(*pg_query.ColumnRef); ok && len(cr.Fields) > 0 {
				if _, isStar := unwrap(cr.Fields[len(cr.Fields)-1]).(*pg_query.A_Star); isStar {
					star = true
				}
			}
		}
	}
	for i, n := range s.SortClause {
		sb, ok := unwrap(n).(*pg_query.SortBy)
		if !ok || sb.SortbyDir == pg_query.SortByDir_SORTBY_USING {
			return false, nil
		}
		expr, ok := sortExpr(s.TargetList, sb.Node, star)
		if !ok {
			return false, nil
		}
		key := SortKey{Desc: sb.SortbyDir == pg_query.SortByDir_SORTBY_DESC}
		switch sb.SortbyNulls {
		case pg_query.SortByNulls_SORTBY_NULLS_FIRST:
			key.NullsFirst = true
		case pg_query.SortByNulls_SORTBY_NULLS_LAST:
			key.NullsFirst = false
		default:
			key.NullsFirst = key.Desc
		}
		switch x := unwrap(expr).(type) {
		case *pg_query.CollateClause:
			key.Collate = strings.Join(quotedNames(x.Collname), ".")
		case *pg_query.ColumnRef:
			key.Column = true
		}
		sc.Sort = append(sc.Sort, key)
		s.TargetList = append(s.TargetList, resTarget(fmt.Sprintf("_sqlrouter_key%d", i+1), proto.Clone(expr).(*pg_query.Node)))
	}
	sc.Hidden = len(sc.Sort)
	var ok bool
	if sc.Limit, ok = count(s.LimitCount); !ok {
		return false, nil
	}
	if sc.Offset, ok = count(s.LimitOffset); !ok || (sc.Offset != nil && sc.Offset.Param == 0 && sc.Offset.Const < 0) {
		return false, nil
	}
	// Each cluster returns at most offset+limit rows: the merged first
	// offset+limit rows can only come from those.
	s.LimitOffset = nil
	if sc.Limit != nil && sc.Offset != nil {
		s.LimitCount = &pg_query.Node{Node: &pg_query.Node_AExpr{AExpr: &pg_query.A_Expr{
			Kind: pg_query.A_Expr_Kind_AEXPR_OP, Name: []*pg_query.Node{str("+")},
			Lexpr: proto.Clone(s.LimitCount).(*pg_query.Node), Rexpr: countNode(sc.Offset),
		}}}
	}
	sc.Params = renumberParams(s)
	worker, err := deparse(ctx, s)
	if err != nil {
		return false, err
	}
	sc.Worker = worker
	return true, nil
}

// quotedNames quotes each part of a qualified name.
func quotedNames(nodes []*pg_query.Node) []string { return quotedNamesOf(nameList(nodes)) }

func str(s string) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_String_{String_: &pg_query.String{Sval: s}}}
}

func resTarget(name string, val *pg_query.Node) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Name: name, Val: val}}}
}

func countNode(c *Count) *pg_query.Node {
	if c.Param > 0 {
		return &pg_query.Node{Node: &pg_query.Node_ParamRef{ParamRef: &pg_query.ParamRef{Number: int32(c.Param)}}}
	}
	return &pg_query.Node{Node: &pg_query.Node_AConst{AConst: &pg_query.A_Const{Val: &pg_query.A_Const_Fval{Fval: &pg_query.Float{Fval: fmt.Sprint(c.Const)}}}}}
}

// count reads a LIMIT or OFFSET: absent, NULL (LIMIT ALL), a constant or a
// parameter. ok is false for anything else.
func count(n *pg_query.Node) (*Count, bool) {
	if n == nil {
		return nil, true
	}
	switch x := unwrap(n).(type) {
	case *pg_query.A_Const:
		if x.Isnull {
			return nil, true
		}
		switch v := x.Val.(type) {
		case *pg_query.A_Const_Ival:
			return &Count{Const: int64(v.Ival.Ival)}, true
		case *pg_query.A_Const_Fval:
			var c int64
			if _, err := fmt.Sscan(v.Fval.Fval, &c); err == nil && !strings.ContainsAny(v.Fval.Fval, ".eE") {
				return &Count{Const: c}, true
			}
		}
	case *pg_query.ParamRef:
		return &Count{Param: int(x.Number)}, true
	}
	return nil, false
}

// sortExpr resolves an ORDER BY item as PostgreSQL does: a number is a
// position in the select list, a bare name first an output column's name,
// anything else an expression over the input.
func sortExpr(targets []*pg_query.Node, n *pg_query.Node, star bool) (*pg_query.Node, bool) {
	switch x := unwrap(n).(type) {
	case *pg_query.A_Const:
		iv, ok := x.Val.(*pg_query.A_Const_Ival)
		if !ok || star || iv.Ival.Ival < 1 || int(iv.Ival.Ival) > len(targets) {
			return nil, false
		}
		rt, ok := unwrap(targets[iv.Ival.Ival-1]).(*pg_query.ResTarget)
		return rt.GetVal(), ok
	case *pg_query.ColumnRef:
		if len(x.Fields) == 1 {
			name := stringValue(x.Fields[0])
			var found *pg_query.Node
			for _, t := range targets {
				rt, ok := unwrap(t).(*pg_query.ResTarget)
				if ok && columnName(rt) == name {
					if found != nil && !proto.Equal(stripLocations(found), stripLocations(rt.Val)) {
						return nil, false // ambiguous: PostgreSQL refuses it
					}
					found = rt.Val
				}
			}
			if found != nil {
				return found, true
			}
		}
	}
	return n, true
}

// stripLocations returns a copy of a tree without source positions, to
// compare expressions by structure.
func stripLocations(n *pg_query.Node) *pg_query.Node {
	c := proto.Clone(n).(*pg_query.Node)
	inspect(c, func(m proto.Message) bool {
		fd := m.ProtoReflect().Descriptor().Fields().ByName("location")
		if fd != nil {
			m.ProtoReflect().Clear(fd)
		}
		return true
	})
	return c
}

// calls says what functions a statement calls at its own level.
type calls struct {
	aggregates bool
	// unknown: a function the planner does not know (a user-defined
	// function could be an aggregate).
	unknown  bool
	windows  bool
	grouping bool // GROUPING()
}

// topLevelCalls classifies the function calls of the statement's own
// select list, GROUP BY, HAVING and ORDER BY (not those of subqueries).
func topLevelCalls(s *pg_query.SelectStmt) (c calls) {
	var nodes []*pg_query.Node
	nodes = append(nodes, s.TargetList...)
	nodes = append(nodes, s.GroupClause...)
	nodes = append(nodes, s.HavingClause)
	nodes = append(nodes, s.SortClause...)
	for _, n := range nodes {
		inspect(unwrap(n), func(m proto.Message) bool {
			switch x := m.(type) {
			case *pg_query.SubLink:
				return false
			case *pg_query.FuncCall:
				switch {
				case x.Over != nil:
					c.windows = true
				case classify(x) == funcAggregate:
					c.aggregates = true
				case classify(x) == funcUnknown:
					c.unknown = true
				}
			case *pg_query.GroupingFunc:
				c.grouping = true
			}
			return true
		})
	}
	return c
}

// windowsByKey reports whether every window function partitions by a
// distribution key, so that each partition lives on one cluster.
func windowsByKey(a *analysis, s *pg_query.SelectStmt, top []*relRef) bool {
	named := map[string]*pg_query.WindowDef{}
	for _, w := range s.WindowClause {
		if wd, ok := unwrap(w).(*pg_query.WindowDef); ok {
			named[wd.Name] = wd
		}
	}
	ok := true
	var nodes []*pg_query.Node
	nodes = append(append(nodes, s.TargetList...), s.SortClause...)
	for _, n := range nodes {
		inspect(unwrap(n), func(m proto.Message) bool {
			f, isFunc := m.(*pg_query.FuncCall)
			if _, sub := m.(*pg_query.SubLink); sub {
				return false
			}
			if !isFunc || f.Over == nil {
				return true
			}
			w := baseWindow(named, f.Over)
			byKey := false
			for _, p := range w.PartitionClause {
				if r := a.keyColumn(p, top); r != nil && r.distributed() && !r.nullable {
					byKey = true
				}
			}
			ok = ok && byKey
			return true
		})
	}
	return ok
}

// baseWindow follows a window's references to named windows (OVER w,
// OVER (w ORDER BY ...)) to the definition that holds its partitions.
func baseWindow(named map[string]*pg_query.WindowDef, w *pg_query.WindowDef) *pg_query.WindowDef {
	for w.Refname != "" || (w.Name != "" && len(w.PartitionClause) == 0) {
		ref := w.Refname
		if ref == "" {
			ref = w.Name
		}
		next, found := named[ref]
		if !found || next == w {
			break
		}
		w = next
	}
	return w
}

// groupedByKey reports whether GROUP BY names a distribution key, so that
// every group lives on one cluster.
func groupedByKey(a *analysis, s *pg_query.SelectStmt, top []*relRef) bool {
	for _, g := range s.GroupClause {
		if _, sets := unwrap(g).(*pg_query.GroupingSet); sets {
			return false // the grand-total rows gather every cluster
		}
	}
	for _, g := range s.GroupClause {
		expr, ok := sortExpr(s.TargetList, g, false)
		if !ok {
			continue
		}
		// NULL keys of an outer join's nullable side come from every
		// cluster: their group would be split.
		if r := a.keyColumn(expr, top); r != nil && r.distributed() && !r.nullable {
			return true
		}
	}
	return false
}

package planner

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// Combine computes aggregates in two steps: each cluster aggregates its
// own rows by group into partial results (count, sum, min, max, ... and
// the groups of DISTINCT arguments), and the coordinator combines the
// partials of each group and runs the rest of the statement (HAVING,
// expressions over aggregates, grouping sets, DISTINCT, ORDER BY, LIMIT)
// over them. Only what the clusters return per group crosses the network.
type Combine struct {
	SQL string
	// Worker is what each cluster runs; its columns load the coordinator's
	// table _sqlrouter_partial as c1, c2, ...
	Worker string
	// Params maps Worker's $i+1 to the statement's parameter Params[i].
	Params []int
	Target Target
	// Final is the coordinator's query over the partials. Each Finals
	// token in it stands for an expression that depends on the type of a
	// partial column.
	Final       string
	FinalParams []int
	Finals      []FinalExpr
	// ReadOnly is true when the worker calls no function that might
	// write: replicas may answer it.
	ReadOnly bool
}

// FinalExpr combines partial aggregates into an aggregate's result.
type FinalExpr struct {
	// Token is the identifier Final holds in the expression's place.
	Token string
	// Kind is "sum" (Columns: the partial sums) or "avg" (Columns: the
	// partial sums and counts).
	Kind    string
	Columns []int // 1-based
}

func (c *Combine) explain(b *strings.Builder) {
	fmt.Fprintf(b, "Combine partial aggregates at the coordinator\n  Scatter: %s\n    %s\n  Final: %s\n", c.Target.String(), c.Worker, c.Final)
}

// combiner builds a Combine.
type combiner struct {
	s       *pg_query.SelectStmt
	groups  []*pg_query.Node // worker columns 1..len(groups)
	partial []*pg_query.Node // worker columns after the groups
	finals  []FinalExpr
	ok      bool
}

// planCombine plans an aggregating read whose groups span clusters. ok is
// false when an aggregate cannot be split (string_agg, an ordered
// aggregate, ...), or the statement names a column it does not group by.
func planCombine(ctx *Context, s *pg_query.SelectStmt, target Target, sql string) (Plan, bool, error) {
	if ctx.Map.Coordinator == "" {
		return nil, false, nil
	}
	c := &combiner{s: s, ok: true}
	// The groups: every expression GROUP BY names, flattening grouping
	// sets (the coordinator applies the sets to the finer groups).
	for _, g := range s.GroupClause {
		c.addGroupItem(g)
	}
	// The arguments of DISTINCT aggregates are groups too; they must all
	// be known before partial columns get their numbers.
	var clauses []*pg_query.Node
	clauses = append(append(append(clauses, s.TargetList...), s.HavingClause), s.SortClause...)
	for _, n := range clauses {
		inspect(unwrap(n), func(m proto.Message) bool {
			if f, ok := m.(*pg_query.FuncCall); ok && f.AggDistinct && classify(f) == funcAggregate && len(f.Args) == 1 {
				c.group(f.Args[0])
			}
			_, sub := m.(*pg_query.SubLink)
			return !sub
		})
	}
	master := proto.Clone(s).(*pg_query.SelectStmt)
	master.WhereClause = nil
	master.WithClause = nil
	master.FromClause = []*pg_query.Node{{Node: &pg_query.Node_RangeVar{RangeVar: &pg_query.RangeVar{Relname: "_sqlrouter_partial", Inh: true, Relpersistence: "p"}}}}
	outputs := map[string]bool{}
	for i, t := range master.TargetList {
		rt, isTarget := unwrap(t).(*pg_query.ResTarget)
		if !isTarget {
			return nil, false, nil
		}
		orig := unwrap(s.TargetList[i]).(*pg_query.ResTarget)
		rt.Name = columnName(orig)
		outputs[rt.Name] = true
		rt.Val = c.rewrite(rt.Val)
	}
	for i, g := range master.GroupClause {
		master.GroupClause[i] = c.rewriteGroupItem(g, outputs)
	}
	master.HavingClause = c.rewrite(master.HavingClause)
	for _, n := range master.SortClause {
		sb, ok := unwrap(n).(*pg_query.SortBy)
		if !ok {
			return nil, false, nil
		}
		if isOutputRef(sb.Node, outputs) {
			continue
		}
		sb.Node = c.rewrite(sb.Node)
	}
	for i, d := range master.DistinctClause {
		if d != nil && unwrap(d) != nil && !isOutputRef(d, outputs) {
			master.DistinctClause[i] = c.rewrite(d)
		}
	}
	if !c.ok {
		return nil, false, nil
	}
	// The worker: the groups and the partials, grouped by the groups.
	worker := proto.Clone(s).(*pg_query.SelectStmt)
	worker.TargetList = nil
	worker.GroupClause = nil
	worker.HavingClause = nil
	worker.SortClause = nil
	worker.DistinctClause = nil
	worker.LimitCount, worker.LimitOffset = nil, nil
	worker.LimitOption = pg_query.LimitOption_LIMIT_OPTION_DEFAULT
	for i, g := range c.groups {
		worker.TargetList = append(worker.TargetList, resTarget(fmt.Sprintf("_g%d", i+1), proto.Clone(g).(*pg_query.Node)))
		worker.GroupClause = append(worker.GroupClause, &pg_query.Node{Node: &pg_query.Node_AConst{AConst: &pg_query.A_Const{Val: &pg_query.A_Const_Ival{Ival: &pg_query.Integer{Ival: int32(i + 1)}}}}})
	}
	for i, p := range c.partial {
		worker.TargetList = append(worker.TargetList, resTarget(fmt.Sprintf("_p%d", i+1), p))
	}
	if len(worker.TargetList) == 0 {
		return nil, false, nil
	}
	out := &Combine{SQL: sql, Target: target, Finals: c.finals}
	out.Params = renumberParams(worker)
	var err error
	if out.Worker, err = deparse(ctx, worker); err != nil {
		return nil, false, err
	}
	out.FinalParams = renumberParams(master)
	if out.Final, err = deparse(ctx, master); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// isOutputRef reports an ORDER BY/DISTINCT item that names an output
// column (by position or name), which the coordinator resolves the same
// way.
func isOutputRef(n *pg_query.Node, outputs map[string]bool) bool {
	switch x := unwrap(n).(type) {
	case *pg_query.A_Const:
		_, isInt := x.Val.(*pg_query.A_Const_Ival)
		return isInt
	case *pg_query.ColumnRef:
		return len(x.Fields) == 1 && outputs[stringValue(x.Fields[0])]
	}
	return false
}

func (c *combiner) addGroupItem(g *pg_query.Node) {
	switch x := unwrap(g).(type) {
	case *pg_query.GroupingSet:
		for _, item := range x.Content {
			c.addGroupItem(item)
		}
	case *pg_query.RowExpr:
		for _, a := range x.Args {
			c.addGroupItem(a)
		}
	case *pg_query.A_Const:
		if iv, ok := x.Val.(*pg_query.A_Const_Ival); ok {
			i := int(iv.Ival.Ival)
			if i < 1 || i > len(c.s.TargetList) {
				c.ok = false
				return
			}
			rt, ok := unwrap(c.s.TargetList[i-1]).(*pg_query.ResTarget)
			if !ok {
				c.ok = false
				return
			}
			c.group(rt.Val)
			return
		}
		c.group(g)
	case *pg_query.ColumnRef:
		// A bare name is an input column first (GROUP BY rule); when it is
		// also the alias of another expression, the router cannot tell.
		if len(x.Fields) == 1 {
			name := stringValue(x.Fields[0])
			for _, t := range c.s.TargetList {
				rt, ok := unwrap(t).(*pg_query.ResTarget)
				if ok && rt.Name == name && !sameExpr(rt.Val, g) {
					c.ok = false
					return
				}
			}
		}
		c.group(g)
	default:
		c.group(g)
	}
}

func (c *combiner) group(g *pg_query.Node) int {
	for i, have := range c.groups {
		if sameExpr(have, g) {
			return i
		}
	}
	c.groups = append(c.groups, proto.Clone(g).(*pg_query.Node))
	return len(c.groups) - 1
}

// rewriteGroupItem rewrites a GROUP BY item for the coordinator: positions
// and output names stay, expressions become the worker's group columns.
func (c *combiner) rewriteGroupItem(g *pg_query.Node, outputs map[string]bool) *pg_query.Node {
	switch x := unwrap(g).(type) {
	case *pg_query.GroupingSet:
		for i, item := range x.Content {
			x.Content[i] = c.rewriteGroupItem(item, outputs)
		}
		return g
	case *pg_query.RowExpr:
		for i, a := range x.Args {
			x.Args[i] = c.rewriteGroupItem(a, outputs)
		}
		return g
	case *pg_query.A_Const:
		if _, ok := x.Val.(*pg_query.A_Const_Ival); ok {
			return g
		}
	}
	return c.rewrite(g)
}

// col names worker column i (1-based) at the coordinator.
func col(i int) *pg_query.Node { return columnRef(fmt.Sprintf("c%d", i)) }

// rewrite turns an expression over the statement's rows into one over the
// partial table: group expressions become their columns, aggregates their
// combinations. A column outside the groups fails the rewrite.
func (c *combiner) rewrite(n *pg_query.Node) *pg_query.Node {
	if n == nil || unwrap(n) == nil {
		return n
	}
	root := &pg_query.ResTarget{Val: proto.Clone(n).(*pg_query.Node)}
	if r, ok := c.replace(root.Val); ok {
		return r
	}
	replaceNodes(root, c.replace)
	return root.Val
}

func (c *combiner) replace(n *pg_query.Node) (*pg_query.Node, bool) {
	for i, g := range c.groups {
		if sameExpr(g, n) {
			return col(i + 1), true
		}
	}
	switch x := unwrap(n).(type) {
	case *pg_query.ColumnRef:
		c.ok = false
		return n, true
	case *pg_query.SubLink:
		c.ok = false
		return n, true
	case *pg_query.FuncCall:
		switch classify(x) {
		case funcAggregate:
			if r := c.aggregate(x); r != nil {
				return r, true
			}
			c.ok = false
			return n, true
		case funcUnknown:
			if x.Over == nil {
				c.ok = false
				return n, true
			}
		}
	}
	return nil, false
}

// aggregate splits one aggregate call into partials and their
// combination.
func (c *combiner) aggregate(f *pg_query.FuncCall) *pg_query.Node {
	names := nameList(f.Funcname)
	name := names[len(names)-1]
	if len(f.AggOrder) > 0 || f.AggWithinGroup || f.Over != nil || (f.AggDistinct && f.AggFilter != nil) {
		c.ok = false
		return nil
	}
	if f.AggDistinct {
		// The distinct values become groups of the worker; the coordinator
		// aggregates them with DISTINCT.
		switch name {
		case "count", "sum", "avg", "min", "max":
		default:
			c.ok = false
			return nil
		}
		if len(f.Args) != 1 {
			c.ok = false
			return nil
		}
		i := c.group(f.Args[0])
		return funcNode(name, true, col(i+1))
	}
	partial := func(fn string) int {
		p := &pg_query.FuncCall{Funcname: []*pg_query.Node{str(fn)}, Args: cloneNodes(f.Args), AggStar: f.AggStar}
		if f.AggFilter != nil {
			p.AggFilter = proto.Clone(f.AggFilter).(*pg_query.Node)
		}
		node := &pg_query.Node{Node: &pg_query.Node_FuncCall{FuncCall: p}}
		for i, have := range c.partial {
			if sameExpr(have, node) {
				return len(c.groups) + i + 1
			}
		}
		c.partial = append(c.partial, node)
		return len(c.groups) + len(c.partial)
	}
	switch name {
	case "count":
		if len(f.Args) > 1 {
			c.ok = false
			return nil
		}
		return typeCast(funcNode("sum", false, col(partial("count"))), "int8")
	case "sum":
		return c.final("sum", partial("sum"))
	case "avg":
		return c.final("avg", partial("sum"), partial("count"))
	case "min", "max", "bool_and", "bool_or", "every", "bit_and", "bit_or":
		combine := name
		if name == "every" {
			combine = "bool_and"
		}
		return funcNode(combine, false, col(partial(name)))
	}
	c.ok = false
	return nil
}

// final stands for a combination the executor writes once it knows the
// partial columns' types.
func (c *combiner) final(kind string, cols ...int) *pg_query.Node {
	token := fmt.Sprintf("sqlrouter_final_%d", len(c.finals)+1)
	c.finals = append(c.finals, FinalExpr{Token: token, Kind: kind, Columns: cols})
	return columnRef(token)
}

func funcNode(name string, distinct bool, args ...*pg_query.Node) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_FuncCall{FuncCall: &pg_query.FuncCall{Funcname: []*pg_query.Node{str(name)}, Args: args, AggDistinct: distinct}}}
}

func typeCast(n *pg_query.Node, typ string) *pg_query.Node {
	return &pg_query.Node{Node: &pg_query.Node_TypeCast{TypeCast: &pg_query.TypeCast{Arg: n, TypeName: &pg_query.TypeName{Names: []*pg_query.Node{str("pg_catalog"), str(typ)}, Typemod: -1}}}}
}

func cloneNodes(nodes []*pg_query.Node) []*pg_query.Node {
	out := make([]*pg_query.Node, len(nodes))
	for i, n := range nodes {
		out[i] = proto.Clone(n).(*pg_query.Node)
	}
	return out
}

package planner

import (
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// Gather reads rows from clusters: the result of one query run on each
// target cluster, concatenated.
type Gather struct {
	// Name is the temporary table the rows are loaded into at the
	// coordinator.
	Name string
	// SQL is the query each cluster runs.
	SQL string
	// Params maps SQL's $i+1 to the statement's parameter Params[i].
	Params []int
	// Target is where it runs: every cluster a key condition leaves for a
	// distributed table, one copy of a reference table, the default
	// cluster for a table outside the map.
	Target Target
	// Source says what is read, for EXPLAIN.
	Source string
}

// Finish runs a statement whose rows live on several clusters the general
// way: every table it reads is gathered (filtered by the conditions that
// concern that table alone) into a temporary table of the coordinator's
// session, and the coordinator PostgreSQL runs the statement over those.
// PostgreSQL itself computes the answer, so every construct it supports
// gives its own answer: joins of any tables, subqueries, window
// functions, set operations, any aggregate.
type Finish struct {
	SQL     string
	Gathers []*Gather
	// Final is the statement as the coordinator runs it, with the same
	// parameters as the original.
	Final string
}

func (f *Finish) explain(b *strings.Builder) {
	b.WriteString("Finish at the coordinator\n")
	for _, g := range f.Gathers {
		fmt.Fprintf(b, "  Gather %s into %s: %s\n", g.Source, g.Name, g.Target.String())
		fmt.Fprintf(b, "    %s\n", g.SQL)
	}
	fmt.Fprintf(b, "  Final: %s\n", f.Final)
}

// gatherPrefix starts the names of the coordinator's temporary tables.
const gatherPrefix = "_sqlrouter_gather_"

// planFinish plans a read whose rows lie on several clusters as gathers
// and a final query at the coordinator.
func planFinish(ctx *Context, stmt proto.Message, sql string) (Plan, error) {
	stmt = proto.Clone(stmt)
	a := newAnalysis(ctx)
	a.visit(stmt, nil)
	if a.err != nil {
		return nil, a.err
	}
	switch {
	case ctx.Map.Coordinator == "":
		return nil, pgerror.Unsupported("this statement needs rows from several clusters, which needs a coordinator in the shard map").
			WithHint("Add coordinator: postgres://... to the shard map.")
	case a.systemColumns:
		return nil, pgerror.Unsupported("system columns (ctid, xmin, tableoid, ...) in a statement that spans clusters are not supported")
	case a.sequences:
		return nil, pgerror.Unsupported("sequence functions in a statement that spans clusters are not supported")
	case a.catalog:
		return nil, pgerror.Unsupported("system catalogs in a statement that spans clusters are not supported")
	case a.selectInto || hasLocking(stmt):
		return nil, pgerror.Unsupported("SELECT ... INTO and FOR UPDATE/SHARE in a statement that spans clusters are not supported yet")
	}
	f := &Finish{SQL: sql}
	bySQL := map[string]*Gather{}
	for _, r := range a.all {
		if r.table != nil && r.table.Vertical != nil {
			return nil, pgerror.Unsupported("vertically partitioned table %s is not supported yet", tableName(r.table))
		}
		g, err := gatherFor(ctx, r, len(f.Gathers)+1)
		if err != nil {
			return nil, err
		}
		// The same rows read twice (a self-join) are gathered once.
		if prev, ok := bySQL[g.SQL+targetKey(g.Target)]; ok && slices.Equal(prev.Params, g.Params) {
			g = prev
		} else {
			bySQL[g.SQL+targetKey(g.Target)] = g
			f.Gathers = append(f.Gathers, g)
		}
		alias := &pg_query.Alias{Aliasname: r.refName}
		if r.rv.Alias != nil {
			alias.Colnames = r.rv.Alias.Colnames
		}
		*r.rv = pg_query.RangeVar{Relname: g.Name, Inh: true, Relpersistence: "p", Alias: alias, Location: r.rv.Location}
	}
	final, err := deparse(ctx, stmt)
	if err != nil {
		return nil, err
	}
	f.Final = final
	return f, nil
}

func targetKey(t Target) string {
	return fmt.Sprint(t.Static, t.AnyOf, t.Pins)
}

// gatherFor builds the query that reads one table occurrence's rows.
func gatherFor(ctx *Context, r *relRef, n int) (*Gather, error) {
	from := &pg_query.RangeVar{Schemaname: r.schema, Relname: r.name, Inh: r.rv.Inh, Relpersistence: "p"}
	if r.refName != r.name && len(r.pushed) > 0 {
		// The pushed conditions name the table by its alias.
		from.Alias = &pg_query.Alias{Aliasname: r.refName}
	}
	sel := &pg_query.SelectStmt{
		TargetList: []*pg_query.Node{{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{
			Val: &pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: &pg_query.ColumnRef{Fields: []*pg_query.Node{{Node: &pg_query.Node_AStar{AStar: &pg_query.A_Star{}}}}}}},
		}}}},
		FromClause: []*pg_query.Node{{Node: &pg_query.Node_RangeVar{RangeVar: from}}},
	}
	if len(r.pushed) > 0 {
		var args []*pg_query.Node
		for _, c := range r.pushed {
			args = append(args, proto.Clone(c).(*pg_query.Node))
		}
		if len(args) == 1 {
			sel.WhereClause = args[0]
		} else {
			sel.WhereClause = &pg_query.Node{Node: &pg_query.Node_BoolExpr{BoolExpr: &pg_query.BoolExpr{Boolop: pg_query.BoolExprType_AND_EXPR, Args: args}}}
		}
	}
	params := renumberParams(sel)
	sql, err := deparse(ctx, sel)
	if err != nil {
		return nil, err
	}
	g := &Gather{Name: fmt.Sprintf("%s%d", gatherPrefix, n), SQL: sql, Params: params, Source: r.describe()}
	switch {
	case r.distributed():
		if r.pin != nil {
			g.Target.addPin(*r.pin)
		} else {
			g.Target.addStatic(r.table.Distribution.Clusters()...)
		}
	case r.table != nil: // a reference table: any copy
		g.Target.AnyOf = referenceCopies(ctx.Map)
	default:
		g.Target.addStatic(ctx.Map.DefaultClusterName())
	}
	g.Target.finish()
	return g, nil
}

// describe names a table occurrence as the statement wrote it.
func (r *relRef) describe() string {
	s := r.name
	if r.schema != "" {
		s = r.schema + "." + s
	}
	if r.refName != r.name {
		s += " " + r.refName
	}
	return s
}

// renumberParams renumbers the parameters under msg from $1, in order of
// their original numbers, and returns the original numbers.
func renumberParams(msg proto.Message) []int {
	refs := paramRefs(msg)
	var params []int
	for _, p := range refs {
		params = append(params, int(p.Number))
	}
	slices.Sort(params)
	params = slices.Compact(params)
	renum := map[int32]int32{}
	for i, old := range params {
		renum[int32(old)] = int32(i + 1)
	}
	for _, p := range refs {
		p.Number = renum[p.Number]
	}
	return params
}

// deparse turns one statement back into SQL.
func deparse(ctx *Context, stmt proto.Message) (string, error) {
	stmt = parenthesizeNullTests(stmt)
	node := &pg_query.Node{}
	switch s := stmt.(type) {
	case *pg_query.SelectStmt:
		node.Node = &pg_query.Node_SelectStmt{SelectStmt: s}
	case *pg_query.InsertStmt:
		node.Node = &pg_query.Node_InsertStmt{InsertStmt: s}
	default:
		return "", pgerror.New(pgerror.InternalError, "cannot deparse %T", stmt)
	}
	sql, err := pg_query.Deparse(&pg_query.ParseResult{Version: ctx.version, Stmts: []*pg_query.RawStmt{{Stmt: node}}})
	if err != nil {
		return "", pgerror.New(pgerror.InternalError, "rewriting the statement: %v", err)
	}
	return sql, nil
}

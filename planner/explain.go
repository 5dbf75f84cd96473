package planner

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// ExplainPlan is EXPLAIN through the router: the distributed plan, then what
// each cluster runs with that cluster's own EXPLAIN (ANALYZE runs it).
type ExplainPlan struct {
	SQL string
	// Inner is the plan of the statement explained.
	Inner Plan
	// Options is the option list to pass to each cluster's EXPLAIN
	// ("ANALYZE true, FORMAT json"), "" for none.
	Options string
	Analyze bool
	// JSON is set for FORMAT JSON: one row of type json.
	JSON bool
}

func (e *ExplainPlan) explain(b *strings.Builder) {
	b.WriteString("Explain\n")
	for _, line := range strings.Split(Explain(e.Inner), "\n") {
		b.WriteString("  " + line + "\n")
	}
}

// Step is one query a plan sends to clusters, for EXPLAIN.
type Step struct {
	// What says what the step is ("scatter", "gather customers c", ...).
	What   string
	SQL    string
	Params []int
	Target Target
}

// Steps lists the queries a plan runs on clusters, in order, and the
// query the coordinator runs last ("" when none).
func Steps(p Plan) ([]Step, string) {
	switch p := p.(type) {
	case *Route:
		return []Step{{What: "route", SQL: p.SQL, Target: p.Target, Params: allNumbers(p.SQL)}}, ""
	case *Scatter:
		return []Step{{What: "scatter", SQL: p.Worker, Params: p.Params, Target: p.Target}}, ""
	case *Combine:
		return []Step{{What: "partial aggregates", SQL: p.Worker, Params: p.Params, Target: p.Target}}, p.Final
	case *Finish:
		var steps []Step
		for _, g := range p.Gathers {
			steps = append(steps, Step{What: "gather " + g.Source + " into " + g.Name, SQL: g.SQL, Params: g.Params, Target: g.Target})
		}
		return steps, p.Final
	case *Broadcast:
		var t Target
		t.addStatic(p.Clusters...)
		return []Step{{What: "broadcast", SQL: p.SQL, Target: t, Params: allNumbers(p.SQL)}}, ""
	case *Sequence:
		var steps []Step
		for _, st := range p.Steps {
			inner, _ := Steps(st.Plan)
			for _, in := range inner {
				in.What = st.What
				if in.Params == nil {
					in.Params = st.Params
				} else {
					for i, n := range in.Params {
						in.Params[i] = st.Params[n-1]
					}
				}
				steps = append(steps, in)
			}
		}
		return steps, ""
	case *FanOut:
		return []Step{{What: "fan-out", SQL: p.SQL, Target: p.Target, Params: allNumbers(p.SQL)}}, ""
	case *SplitInsert:
		var steps []Step
		for _, part := range p.static {
			var t Target
			t.addStatic(part.Cluster)
			steps = append(steps, Step{What: fmt.Sprintf("insert rows %v", part.Rows), SQL: part.SQL, Target: t, Params: part.Params})
		}
		return steps, ""
	}
	return nil, ""
}

// allNumbers marks a step that keeps the statement's parameter numbering:
// nil means "all of them, as they are".
func allNumbers(string) []int { return nil }

func planExplain(ctx *Context, s *pg_query.ExplainStmt, sql string) (Plan, error) {
	e := &ExplainPlan{SQL: sql}
	var opts []string
	for _, o := range s.Options {
		d, ok := unwrap(o).(*pg_query.DefElem)
		if !ok {
			continue
		}
		opt := strings.ToUpper(d.Defname)
		val := ""
		switch a := unwrap(d.Arg).(type) {
		case *pg_query.String:
			val = a.Sval
		case *pg_query.Integer:
			val = fmt.Sprint(a.Ival)
		case *pg_query.Boolean:
			val = fmt.Sprint(a.Boolval)
		case *pg_query.A_Const:
			val = setValue([]*pg_query.Node{d.Arg})
		}
		switch d.Defname {
		case "analyze":
			e.Analyze = val == "" || isOn(val)
		case "format":
			switch strings.ToLower(val) {
			case "json":
				e.JSON = true
			case "text":
			default:
				return nil, pgerror.Unsupported("EXPLAIN (FORMAT %s) is not supported through the router; use TEXT or JSON", val)
			}
		}
		if val != "" {
			opt += " " + val
		}
		opts = append(opts, opt)
	}
	e.Options = strings.Join(opts, ", ")
	inner := unwrap(s.Query)
	text, err := deparseAny(ctx, inner)
	if err != nil {
		return nil, err
	}
	p, err := planStatement(ctx, &pg_query.RawStmt{Stmt: s.Query}, text)
	if err != nil {
		return nil, err
	}
	if p, ok := p.(*Route); ok && p.Spread != nil {
		// EXPLAIN of a statement with parameters shows its one-cluster
		// plan.
		p.Spread = nil
	}
	switch p.(type) {
	case *Route, *Scatter, *Combine, *Finish, *Join, *Broadcast, *SplitInsert, *Sequence, *FanOut, *InsertSelect, *GenKeys:
	default:
		return nil, pgerror.Unsupported("EXPLAIN of this statement is not supported through the router")
	}
	e.Inner = p
	return e, nil
}

// deparseAny turns any statement back into SQL.
func deparseAny(ctx *Context, stmt proto.Message) (string, error) {
	stmt = parenthesizeNullTests(stmt)
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
	sql, err := pg_query.Deparse(&pg_query.ParseResult{Version: ctx.version, Stmts: []*pg_query.RawStmt{{Stmt: node}}})
	if err != nil {
		return "", pgerror.New(pgerror.InternalError, "rewriting the statement: %v", err)
	}
	return sql, nil
}

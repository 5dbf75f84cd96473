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

// InsertSelect is an INSERT whose rows the router computes first and then
// places: INSERT ... SELECT from anything the router can read, and INSERT
// ... VALUES whose key is an expression. The SELECT runs as a read plan of
// its own (Source) on the primaries, inside the client's transaction; the
// router keeps all its rows (so the INSERT cannot see rows it inserts, as
// in PostgreSQL), then sends each cluster an INSERT ... VALUES of its rows
// with the statement's ON CONFLICT and RETURNING, all in that transaction.
type InsertSelect struct {
	SQL   string
	Table *shardmap.Table
	// Source is the plan of the SELECT, whose text is SourceSQL and whose
	// parameter $i+1 is the statement's SourceParams[i].
	Source       Plan
	SourceSQL    string
	SourceParams []int
	// Columns is the length of the INSERT's column list (-1 without one);
	// KeyColumn is the key's position in it, -1 when every row goes to
	// every cluster of Clusters (a reference table, or a table outside the
	// map on the default cluster).
	Columns   int
	KeyColumn int
	// Prefix and Suffix surround the rows of each cluster's INSERT:
	// Prefix + "($k+1, $k+2, ...), (...)" + Suffix, where $1..$k are the
	// statement's parameters SuffixParams (those of ON CONFLICT and
	// RETURNING).
	Prefix, Suffix string
	SuffixParams   []int
	// Returning is set when the statement has RETURNING: rows come back
	// in the SELECT's order.
	Returning bool
	// DoNothing and DoUpdate tell the ON CONFLICT action, if any.
	DoNothing, DoUpdate bool
	// Clusters, without a key column, are where every row goes (the first
	// gets the rows before the others).
	Clusters []string
	// Home is a cluster that holds every table the statement names, where
	// it can be described (the default cluster when none does).
	Home string
	// Untyped marks the SELECT's columns that are untyped literals ('x',
	// NULL): PostgreSQL gives them the target column's type, so they
	// travel as text of no declared type. Nil when unknown.
	Untyped []bool
	// GenerateKey is set when the SELECT leaves out the key: the router
	// takes a value of the key column's default for each row and adds it
	// as the last column (KeyColumn, the last of Columns).
	GenerateKey bool
}

func (p *InsertSelect) explain(b *strings.Builder) {
	if p.KeyColumn < 0 {
		fmt.Fprintf(b, "Insert rows of a read into %s on %s (atomic, %s first)\n", tableName(p.Table), strings.Join(p.Clusters, ", "), p.Clusters[0])
	} else {
		fmt.Fprintf(b, "Insert rows of a read into %s, split by %s (atomic)\n", tableName(p.Table), p.Table.Key)
	}
	b.WriteString("  Source:\n")
	for _, line := range strings.Split(Explain(p.Source), "\n") {
		b.WriteString("    " + line + "\n")
	}
	fmt.Fprintf(b, "  Each cluster: %s(...)%s\n", p.Prefix, p.Suffix)
}

// insertKeyColumn finds the distribution key in an INSERT's column list
// (-1 when absent).
func insertKeyColumn(t *shardmap.Table, cols []*pg_query.Node) (int, error) {
	for i, c := range cols {
		rt, ok := unwrap(c).(*pg_query.ResTarget)
		if ok && rt.Name == t.Key {
			if len(rt.Indirection) > 0 {
				return -1, pgerror.Unsupported("INSERT into a subfield of distribution key %s is not supported", t.Key)
			}
			return i, nil
		}
	}
	return -1, nil
}

// checkOnConflict refuses ON CONFLICT clauses a cluster cannot decide
// alone: a conflict target without the distribution key names a unique
// index that holds only per cluster, and DO UPDATE of the key would move
// the row.
func checkOnConflict(t *shardmap.Table, s *pg_query.InsertStmt) error {
	oc := s.OnConflictClause
	if oc == nil || t.Distribution == nil {
		return nil
	}
	if inf := oc.Infer; inf != nil && inf.Conname == "" && len(inf.IndexElems) > 0 {
		found := false
		for _, n := range inf.IndexElems {
			if e, ok := unwrap(n).(*pg_query.IndexElem); ok && e.Name == t.Key {
				found = true
			}
		}
		if !found {
			return pgerror.Unsupported("ON CONFLICT on columns of table %s that do not include distribution key %s is not supported: such a unique index holds on each cluster alone, not across clusters", tableName(t), t.Key).
				WithHint("Make the key part of the unique constraint and of the conflict target.")
		}
	}
	if oc.Action == pg_query.OnConflictAction_ONCONFLICT_UPDATE {
		for _, n := range oc.TargetList {
			if rt, ok := unwrap(n).(*pg_query.ResTarget); ok && rt.Name == t.Key {
				return pgerror.Unsupported("ON CONFLICT DO UPDATE of distribution key %s is not supported", t.Key)
			}
		}
	}
	return nil
}

// writesInWith reports a WITH clause holding INSERT, UPDATE or DELETE.
func writesInWith(w *pg_query.WithClause) bool {
	if w == nil {
		return false
	}
	for _, n := range w.Ctes {
		if cte, ok := unwrap(n).(*pg_query.CommonTableExpr); ok {
			switch unwrap(cte.Ctequery).(type) {
			case *pg_query.InsertStmt, *pg_query.UpdateStmt, *pg_query.DeleteStmt:
				return true
			}
		}
	}
	return false
}

// planInsertSelect plans an INSERT into a distributed table whose rows
// come from a query: on each cluster when the query reads co-located
// tables and keeps their key (each cluster inserts rows it already
// holds), else through the router.
func planInsertSelect(ctx *Context, t *shardmap.Table, s *pg_query.InsertStmt, sel *pg_query.SelectStmt, keyCol int, sql string) (Plan, error) {
	name := tableName(t)
	if writesInWith(s.WithClause) || writesInWith(sel.WithClause) {
		return nil, pgerror.Unsupported("INSERT into distributed table %s with a WITH query that writes is not supported", name)
	}
	if err := readsOnlyReferences(ctx, s, name); err != nil {
		return nil, err
	}
	if f := pushDownInsertSelect(ctx, t, s, sel, keyCol); f != nil {
		f.SQL = sql
		return f, nil
	}
	return pullInsert(ctx, t, s, sel, keyCol, sql)
}

// readsOnlyReferences refuses ON CONFLICT and RETURNING clauses that read
// tables other than reference tables: each cluster runs them on its rows.
func readsOnlyReferences(ctx *Context, s *pg_query.InsertStmt, name string) error {
	a := newAnalysis(ctx)
	a.visit(s.OnConflictClause, nil)
	a.visitNodes(s.ReturningList, nil)
	for _, r := range a.rels {
		if !r.table.Reference {
			return pgerror.Unsupported("INSERT into %s whose ON CONFLICT or RETURNING clause reads table %s is not supported", name, tableName(r.table))
		}
	}
	if len(a.unmapped) > 0 {
		return pgerror.Unsupported("INSERT into %s whose ON CONFLICT or RETURNING clause reads table %s is not supported", name, a.unmapped[0])
	}
	return nil
}

// pushDownInsertSelect returns the fan-out of an INSERT ... SELECT that
// each cluster can run on its own rows, or nil: the SELECT must decompose
// by cluster (a Scatter without LIMIT) over tables co-located with the
// target, and give the target's key straight from their key column.
func pushDownInsertSelect(ctx *Context, t *shardmap.Table, s *pg_query.InsertStmt, sel *pg_query.SelectStmt, keyCol int) *FanOut {
	if s.WithClause != nil || len(sel.ValuesLists) > 0 || keyCol < 0 || keyCol >= len(sel.TargetList) {
		return nil
	}
	p, ok, err := planScatter(ctx, proto.Clone(sel).(*pg_query.SelectStmt), "")
	sc, isScatter := p.(*Scatter)
	if !ok || err != nil || !isScatter || sc.Limit != nil || sc.Offset != nil {
		return nil
	}
	a := newAnalysis(ctx)
	a.visit(sel, nil)
	var dist []*relRef
	for _, r := range a.rels {
		if r.distributed() && r.depth == 1 {
			if r.table.Distribution != t.Distribution {
				return nil
			}
			dist = append(dist, r)
		}
	}
	for _, n := range sel.TargetList {
		if rt, ok := unwrap(n).(*pg_query.ResTarget); ok {
			if cr, ok := unwrap(rt.Val).(*pg_query.ColumnRef); ok {
				if _, star := unwrap(cr.Fields[len(cr.Fields)-1]).(*pg_query.A_Star); star {
					return nil // column positions unknown
				}
			}
		}
	}
	rt, ok := unwrap(sel.TargetList[keyCol]).(*pg_query.ResTarget)
	if !ok || a.keyColumn(rt.Val, dist) == nil {
		return nil
	}
	return &FanOut{Target: sc.Target, Reason: fmt.Sprintf("INSERT ... SELECT into %s from co-located rows with the same key, on each cluster", tableName(t))}
}

// pullInsert plans an INSERT whose rows the router reads, then places.
func pullInsert(ctx *Context, t *shardmap.Table, s *pg_query.InsertStmt, sel *pg_query.SelectStmt, keyCol int, sql string) (Plan, error) {
	name := tableName(t)
	src := proto.Clone(sel).(*pg_query.SelectStmt)
	if s.WithClause != nil {
		if src.WithClause != nil {
			return nil, pgerror.Unsupported("INSERT into %s with WITH queries both before INSERT and in its SELECT is not supported", name)
		}
		src.WithClause = proto.Clone(s.WithClause).(*pg_query.WithClause)
	}
	srcParams := renumberParams(src)
	srcSQL, err := deparse(ctx, src)
	if err != nil {
		return nil, err
	}
	sub := *ctx
	sub.ParamOIDs = pickOIDs(ctx.ParamOIDs, srcParams)
	source, err := planDML(&sub, proto.Clone(src), srcSQL)
	if err != nil {
		return nil, err
	}
	switch source.(type) {
	case *Route, *Scatter, *Combine, *Finish:
	default:
		return nil, pgerror.Unsupported("INSERT into %s from this query is not supported", name)
	}
	tmpl := proto.Clone(s).(*pg_query.InsertStmt)
	tmpl.WithClause = nil
	tmpl.SelectStmt = nil
	suffixParams := renumberParams(tmpl)
	prefix, suffix, err := insertTemplate(ctx, tmpl)
	if err != nil {
		return nil, err
	}
	p := &InsertSelect{
		SQL: sql, Table: t, Source: source, SourceSQL: srcSQL, SourceParams: srcParams,
		Columns: len(s.Cols), KeyColumn: keyCol,
		Prefix: prefix, Suffix: suffix, SuffixParams: suffixParams,
		Returning: len(s.ReturningList) > 0,
	}
	if oc := s.OnConflictClause; oc != nil {
		p.DoNothing = oc.Action == pg_query.OnConflictAction_ONCONFLICT_NOTHING
		p.DoUpdate = oc.Action == pg_query.OnConflictAction_ONCONFLICT_UPDATE
	}
	p.Untyped = untypedColumns(sel)
	if keyCol < 0 {
		p.Clusters = tableClusters(ctx.Map, t)
		if len(s.Cols) == 0 {
			p.Columns = -1
		}
	}
	p.Home = homeOf(ctx, s)
	return p, nil
}

// homeOf finds a cluster that holds every table a statement names: the
// first cluster of its target's that also holds the others.
func homeOf(ctx *Context, stmt proto.Message) string {
	a := newAnalysis(ctx)
	a.visit(stmt, nil)
	def := ctx.Map.DefaultClusterName()
	var cands []string
	for _, r := range a.rels {
		if r.write {
			cands = tableClusters(ctx.Map, r.table)
		}
	}
	for _, c := range cands {
		ok := len(a.unmapped) == 0 || c == def
		for _, r := range a.rels {
			ok = ok && slices.Contains(tableClusters(ctx.Map, r.table), c)
		}
		if ok {
			return c
		}
	}
	return def
}

// untypedColumns marks the columns of a SELECT or VALUES list that are
// string literals or NULL without a cast (in every row of VALUES).
func untypedColumns(sel *pg_query.SelectStmt) []bool {
	untyped := func(n *pg_query.Node) bool {
		c, ok := unwrap(n).(*pg_query.A_Const)
		if !ok {
			return false
		}
		_, isString := c.Val.(*pg_query.A_Const_Sval)
		return c.Isnull || isString
	}
	if len(sel.ValuesLists) > 0 {
		var out []bool
		for i, row := range sel.ValuesLists {
			l, ok := unwrap(row).(*pg_query.List)
			if !ok || (i > 0 && len(l.Items) != len(out)) {
				return nil
			}
			if i == 0 {
				out = make([]bool, len(l.Items))
				for j := range out {
					out[j] = true
				}
			}
			for j, v := range l.Items {
				out[j] = out[j] && untyped(v)
			}
		}
		return out
	}
	if sel.Op != pg_query.SetOperation_SETOP_NONE {
		return nil
	}
	out := make([]bool, len(sel.TargetList))
	for i, n := range sel.TargetList {
		rt, ok := unwrap(n).(*pg_query.ResTarget)
		if !ok {
			return nil
		}
		if cr, ok := unwrap(rt.Val).(*pg_query.ColumnRef); ok {
			if _, star := unwrap(cr.Fields[len(cr.Fields)-1]).(*pg_query.A_Star); star {
				return nil
			}
		}
		out[i] = untyped(rt.Val)
	}
	return out
}

// rowsMarker stands for the rows in the INSERT template while it is
// deparsed.
const rowsMarker = "_sqlrouter_rows_"

// insertTemplate deparses an INSERT without its rows (tmpl.SelectStmt is
// nil) into the text before and after its VALUES rows.
func insertTemplate(ctx *Context, tmpl *pg_query.InsertStmt) (prefix, suffix string, err error) {
	marker := &pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: &pg_query.ColumnRef{Fields: []*pg_query.Node{str(rowsMarker)}}}}
	tmpl.SelectStmt = &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: &pg_query.SelectStmt{
		ValuesLists: []*pg_query.Node{{Node: &pg_query.Node_List{List: &pg_query.List{Items: []*pg_query.Node{marker}}}}},
	}}}
	defer func() { tmpl.SelectStmt = nil }()
	text, err := deparse(ctx, tmpl)
	if err != nil {
		return "", "", err
	}
	i := strings.Index(text, "("+rowsMarker+")")
	if i < 0 {
		return "", "", pgerror.New(pgerror.InternalError, "rewriting INSERT: no row marker in %q", text)
	}
	return text[:i], text[i+len(rowsMarker)+2:], nil
}

// pullToCopies plans an INSERT into a reference table or a table outside
// the map whose rows the router must compute once and copy: those that
// read distributed tables (or, into a table outside the map, other tables
// the default cluster does not hold), and writes to reference tables that
// call functions (each copy would compute its own value). ok is false
// for the INSERTs that run unchanged where the table lives.
func pullToCopies(ctx *Context, a *analysis, t *shardmap.Table, s *pg_query.InsertStmt, sql string) (Plan, bool, error) {
	sel, _ := unwrap(s.SelectStmt).(*pg_query.SelectStmt)
	if sel == nil || (t != nil && !t.Reference) {
		return nil, false, nil
	}
	distributed := false
	for _, r := range a.rels {
		distributed = distributed || r.distributed() || r.table.Vertical != nil
	}
	pull := distributed
	if t == nil {
		t = &shardmap.Table{Schema: s.Relation.Schemaname, Name: s.Relation.Relname}
	} else {
		pull = pull || len(a.unmapped) > 0 || a.funcs
	}
	if !pull {
		return nil, false, nil
	}
	if writesInWith(s.WithClause) || writesInWith(sel.WithClause) {
		return nil, true, pgerror.Unsupported("INSERT into %s with a WITH query that writes is not supported", tableName(t))
	}
	if err := readsOnlyReferences(ctx, s, tableName(t)); err != nil {
		return nil, true, err
	}
	p, err := pullInsert(ctx, t, s, sel, -1, sql)
	if err != nil {
		return nil, true, err
	}
	if t.Distribution == nil && !t.Reference {
		p.(*InsertSelect).Clusters = []string{ctx.Map.DefaultClusterName()}
	} else if callsFunctions(ctx, s.OnConflictClause) {
		return nil, true, pgerror.Unsupported("a write to reference table %s that calls functions is not supported: each copy could compute a different value", tableName(t)).
			WithHint("Compute the value in the application and pass it as a constant or parameter.")
	}
	return p, true, nil
}

// callsFunctions reports whether a clause calls functions.
func callsFunctions(ctx *Context, clause proto.Message) bool {
	a := newAnalysis(ctx)
	a.visit(clause, nil)
	return a.funcs
}

// pickOIDs returns the declared types of the given 1-based parameters.
func pickOIDs(oids []uint32, nums []int) []uint32 {
	if len(oids) == 0 {
		return nil
	}
	out := make([]uint32, len(nums))
	for i, n := range nums {
		if n-1 < len(oids) {
			out[i] = oids[n-1]
		}
	}
	return out
}

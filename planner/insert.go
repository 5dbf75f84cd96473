package planner

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// SplitInsert is a multi-row INSERT ... VALUES into a distributed table
// whose rows may belong to different clusters: each cluster gets an INSERT
// of its own rows, all in one transaction.
type SplitInsert struct {
	// SQL is the original statement.
	SQL   string
	Table *shardmap.Table
	// Keys holds each VALUES row's distribution key.
	Keys []KeyExpr
	// Returning is true when the statement has RETURNING: rows come back
	// in the order of the VALUES list.
	Returning bool

	onConflictNothing bool
	tree              *pg_query.ParseResult // the statement alone, to rewrite per cluster
	parts             sync.Map              // grouping signature -> []Part, for statements with parameters
	cached            atomic.Int32          // entries in parts
	static            []Part                // the split, when no key is a parameter
	uniform           *paramRows            // set when every row holds only parameters
}

// paramRows is an INSERT whose VALUES rows hold nothing but parameters,
// as drivers write batch inserts: a cluster's statement is written from
// a template instead of deparsing a rewritten tree, which for thousands
// of parameters costs far more than the insert.
type paramRows struct {
	prefix, suffix string
	// suffixParams are the statement's parameters that ON CONFLICT and
	// RETURNING use, in the order $1..$k of the template.
	suffixParams []int
	rows         [][]int // each row's parameter numbers
}

// rewrite writes the statement for some rows: the template's parameters
// first, then the rows'.
func (u *paramRows) rewrite(keep []int) (string, []int) {
	params := slices.Clone(u.suffixParams)
	var b strings.Builder
	b.WriteString(u.prefix)
	for i, r := range keep {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j, n := range u.rows[r] {
			if j > 0 {
				b.WriteString(", ")
			}
			params = append(params, n)
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(len(params)))
		}
		b.WriteByte(')')
	}
	b.WriteString(u.suffix)
	return b.String(), params
}

// uniformRows returns the template of an INSERT whose VALUES rows hold
// only parameters, or nil.
func uniformRows(ctx *Context, s *pg_query.InsertStmt) *paramRows {
	sel, ok := unwrap(s.SelectStmt).(*pg_query.SelectStmt)
	if !ok || len(sel.ValuesLists) < 2 || s.WithClause != nil {
		return nil
	}
	u := &paramRows{}
	for _, row := range sel.ValuesLists {
		l, ok := unwrap(row).(*pg_query.List)
		if !ok {
			return nil
		}
		var nums []int
		for _, v := range l.Items {
			p, ok := unwrap(v).(*pg_query.ParamRef)
			if !ok {
				return nil
			}
			nums = append(nums, int(p.Number))
		}
		u.rows = append(u.rows, nums)
	}
	tmpl := proto.Clone(s).(*pg_query.InsertStmt)
	tmpl.SelectStmt = nil
	u.suffixParams = renumberParams(tmpl)
	var err error
	if u.prefix, u.suffix, err = insertTemplate(ctx, tmpl); err != nil {
		return nil
	}
	return u
}

// maxCachedSplits bounds the splits one statement keeps: a batch insert
// of many rows has as many groupings as there are ways to spread its
// keys, and each would otherwise stay in memory with the plan.
const maxCachedSplits = 64

// Part is the INSERT one cluster runs.
type Part struct {
	Cluster string
	// SQL holds only the cluster's rows, parameters renumbered from $1.
	SQL string
	// Rows are the original indexes of the part's VALUES rows, in order.
	Rows []int
	// Params maps the part's parameter $i+1 to the statement's Params[i].
	Params []int
}

func (s *SplitInsert) explain(b *strings.Builder) {
	fmt.Fprintf(b, "Split insert into %s by %s (%d rows, atomic)\n", tableName(s.Table), s.Table.Key, len(s.Keys))
	for _, p := range s.static {
		fmt.Fprintf(b, "  %s: rows %v\n", p.Cluster, p.Rows)
	}
	if s.static == nil {
		b.WriteString("  clusters chosen at bind\n")
	}
}

// Split assigns rows to clusters for one execution.
func (s *SplitInsert) Split(p Params) ([]Part, error) {
	if s.static != nil {
		return s.static, nil
	}
	clusters := make([]string, len(s.Keys))
	for i, k := range s.Keys {
		c, err := rowCluster(s.Table, k, p)
		if err != nil {
			return nil, err
		}
		clusters[i] = c
	}
	sig := strings.Join(clusters, "\x00")
	if v, ok := s.parts.Load(sig); ok {
		return v.([]Part), nil
	}
	parts, err := s.build(clusters)
	if err != nil {
		return nil, err
	}
	if s.cached.Load() < maxCachedSplits {
		if _, loaded := s.parts.LoadOrStore(sig, parts); !loaded {
			s.cached.Add(1)
		}
	}
	return parts, nil
}

func rowCluster(t *shardmap.Table, k KeyExpr, p Params) (string, error) {
	key, ok, err := k.value(t.Distribution.KeyType, p)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", nullKeyError(t)
	}
	c, err := t.Distribution.ClusterFor(key)
	if err != nil {
		return "", pgerror.New(pgerror.CheckViolation, "no cluster of distribution %s accepts key %s = %s", t.Distribution.Name, t.Key, key)
	}
	return c, nil
}

func nullKeyError(t *shardmap.Table) error {
	return pgerror.Unsupported("inserting NULL into distribution key column %s of table %s is not supported", t.Key, tableName(t))
}

// build rewrites the statement once per cluster.
func (s *SplitInsert) build(clusters []string) ([]Part, error) {
	var order []string
	rows := map[string][]int{}
	for i, c := range clusters {
		if _, ok := rows[c]; !ok {
			order = append(order, c)
		}
		rows[c] = append(rows[c], i)
	}
	slices.Sort(order)
	if len(order) == 1 {
		all := make([]int, len(clusters))
		for i := range all {
			all[i] = i
		}
		return []Part{{Cluster: order[0], SQL: s.SQL, Rows: all, Params: allParams(s.tree)}}, nil
	}
	if s.Returning && s.onConflictNothing {
		return nil, pgerror.Unsupported("INSERT ... ON CONFLICT DO NOTHING RETURNING whose rows belong to several clusters is not supported: the order of the returned rows could not be kept")
	}
	parts := make([]Part, 0, len(order))
	for _, c := range order {
		if s.uniform != nil {
			sql, params := s.uniform.rewrite(rows[c])
			parts = append(parts, Part{Cluster: c, SQL: sql, Rows: rows[c], Params: params})
			continue
		}
		sql, params, err := s.rewrite(rows[c])
		if err != nil {
			return nil, err
		}
		parts = append(parts, Part{Cluster: c, SQL: sql, Rows: rows[c], Params: params})
	}
	return parts, nil
}

// rewrite keeps only the given VALUES rows and renumbers the parameters
// still in use.
func (s *SplitInsert) rewrite(keep []int) (string, []int, error) {
	tree := proto.Clone(s.tree).(*pg_query.ParseResult)
	ins := unwrap(tree.Stmts[0].Stmt).(*pg_query.InsertStmt)
	sel := unwrap(ins.SelectStmt).(*pg_query.SelectStmt)
	vals := make([]*pg_query.Node, 0, len(keep))
	for _, i := range keep {
		vals = append(vals, sel.ValuesLists[i])
	}
	sel.ValuesLists = vals
	used := paramRefs(tree)
	params := make([]int, 0, len(used))
	renum := map[int32]int32{}
	for _, n := range used {
		if _, ok := renum[n.Number]; !ok {
			renum[n.Number] = 0
			params = append(params, int(n.Number))
		}
	}
	slices.Sort(params)
	for i, old := range params {
		renum[int32(old)] = int32(i + 1)
	}
	for _, n := range used {
		n.Number = renum[n.Number]
	}
	sql, err := pg_query.Deparse(tree)
	if err != nil {
		return "", nil, pgerror.New(pgerror.InternalError, "rewriting INSERT for one cluster: %v", err)
	}
	return sql, params, nil
}

func paramRefs(msg proto.Message) []*pg_query.ParamRef {
	var out []*pg_query.ParamRef
	inspect(msg, func(m proto.Message) bool {
		if p, ok := m.(*pg_query.ParamRef); ok {
			out = append(out, p)
		}
		return true
	})
	return out
}

func allParams(tree *pg_query.ParseResult) []int {
	max := 0
	for _, p := range paramRefs(tree) {
		max = int(p.Number)
	}
	out := make([]int, 0, max)
	for _, p := range paramRefs(tree) {
		out = append(out, int(p.Number))
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return out
}

// planInsert plans an INSERT. Into a distributed table it needs a column
// list with the key and VALUES whose keys are constants or parameters.
func planInsert(ctx *Context, s *pg_query.InsertStmt, sql string) (Plan, error) {
	a := newAnalysis(ctx)
	a.visit(s, nil)
	if a.err != nil {
		return nil, a.err
	}
	t := ctx.lookupTable(s.Relation.Schemaname, s.Relation.Relname)
	if p, ok, err := pullToCopies(ctx, a, t, s, sql); ok || err != nil {
		return p, err
	}
	if t == nil || t.Distribution == nil || t.Vertical != nil {
		return routeFor(ctx, a, sql, true)
	}
	name := tableName(t)
	if len(s.Cols) == 0 && s.SelectStmt != nil {
		return nil, pgerror.Unsupported("INSERT into distributed table %s without a column list is not supported", name).
			WithHint("Name the columns: INSERT INTO %s (%s, ...) VALUES (...).", name, t.Key)
	}
	keyCol, err := insertKeyColumn(t, s.Cols)
	if err != nil {
		return nil, err
	}
	if err := checkOnConflict(t, s); err != nil {
		return nil, err
	}
	sel, _ := unwrap(s.SelectStmt).(*pg_query.SelectStmt)
	if sel == nil || keyCol < 0 || defaultKey(sel, keyCol) {
		// The key comes from its column's default (serial, identity):
		// the router takes the values before it places the rows.
		return planGeneratedKeys(ctx, a, t, s, sel, keyCol, sql)
	}
	if len(sel.ValuesLists) == 0 || sel.WithClause != nil || len(sel.SortClause) > 0 || sel.LimitCount != nil || sel.LimitOffset != nil {
		return planInsertSelect(ctx, t, s, sel, keyCol, sql)
	}
	for _, r := range a.rels {
		if !r.write && !r.table.Reference {
			// VALUES computed from distributed rows: read them first.
			return planInsertSelect(ctx, t, s, sel, keyCol, sql)
		}
	}
	if len(a.unmapped) > 0 {
		return planInsertSelect(ctx, t, s, sel, keyCol, sql)
	}
	keys := make([]KeyExpr, len(sel.ValuesLists))
	for i, row := range sel.ValuesLists {
		l, ok := unwrap(row).(*pg_query.List)
		if !ok || keyCol >= len(l.Items) {
			return nil, pgerror.New(pgerror.SyntaxError, "INSERT has more target columns than expressions")
		}
		v := l.Items[keyCol]
		k, ok, err := a.keyValue(v, t.Distribution.KeyType)
		if err != nil {
			return nil, err
		}
		if !ok {
			// A computed key: the router evaluates the rows first.
			return planInsertSelect(ctx, t, s, sel, keyCol, sql)
		}
		if k.Null {
			return nil, nullKeyError(t)
		}
		keys[i] = k
	}
	return splitOrRoute(ctx, t, s, keys, sql)
}

// newSplitInsert makes the split of an INSERT ... VALUES whose rows have
// the given keys.
func newSplitInsert(ctx *Context, t *shardmap.Table, s *pg_query.InsertStmt, keys []KeyExpr, sql string) *SplitInsert {
	tree := &pg_query.ParseResult{Version: ctx.version, Stmts: []*pg_query.RawStmt{{Stmt: &pg_query.Node{Node: &pg_query.Node_InsertStmt{InsertStmt: s}}}}}
	return &SplitInsert{
		SQL:               sql,
		Table:             t,
		Keys:              keys,
		Returning:         len(s.ReturningList) > 0,
		onConflictNothing: s.OnConflictClause != nil && s.OnConflictClause.Action == pg_query.OnConflictAction_ONCONFLICT_NOTHING,
		tree:              tree,
		uniform:           uniformRows(ctx, s),
	}
}

// splitOrRoute makes a Route when the rows go to one cluster (always, for a
// single row) and a SplitInsert otherwise.
func splitOrRoute(ctx *Context, t *shardmap.Table, s *pg_query.InsertStmt, keys []KeyExpr, sql string) (Plan, error) {
	allConst := true
	for _, k := range keys {
		allConst = allConst && k.Param == 0
	}
	if len(keys) == 1 || allConst {
		var target Target
		target.addPin(Pin{Table: t, Values: keys})
		for _, k := range keys {
			if k.Param == 0 {
				if _, err := rowCluster(t, k, Params{}); err != nil {
					return nil, err
				}
			}
		}
		target.finish()
		if len(target.Static) <= 1 {
			return &Route{SQL: sql, Target: target, Write: true}, nil
		}
	}
	sp := newSplitInsert(ctx, t, s, keys, sql)
	if allConst {
		clusters := make([]string, len(keys))
		for i, k := range keys {
			clusters[i], _ = rowCluster(t, k, Params{})
		}
		parts, err := sp.build(clusters)
		if err != nil {
			return nil, err
		}
		sp.static = parts
	}
	return sp, nil
}

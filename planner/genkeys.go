package planner

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// GenKeys is an INSERT ... VALUES into a distributed table whose rows
// take their key from the key column's default (serial, bigserial,
// identity, or any DEFAULT expression). A row's cluster depends on its
// key, so the router obtains the values first (from the sequence of a
// cluster that holds the table, in blocks, see package executor) and
// passes them as parameters First, First+1, ... of the rewritten
// statement, Inner, which places the rows.
type GenKeys struct {
	SQL   string
	Table *shardmap.Table
	// First is the parameter number of the first generated key; Count
	// the number of keys.
	First, Count int
	Inner        *SplitInsert
}

func (g *GenKeys) explain(b *strings.Builder) {
	fmt.Fprintf(b, "Generate %d value(s) of %s.%s, then place the rows\n", g.Count, tableName(g.Table), g.Table.Key)
	b.WriteString("  " + strings.ReplaceAll(strings.TrimRight(Explain(g.Inner), "\n"), "\n", "\n  ") + "\n")
}

// defaultKey reports a VALUES list with DEFAULT as the key of some row.
func defaultKey(sel *pg_query.SelectStmt, keyCol int) bool {
	for _, row := range sel.ValuesLists {
		if l, ok := unwrap(row).(*pg_query.List); ok && keyCol < len(l.Items) {
			if _, def := unwrap(l.Items[keyCol]).(*pg_query.SetToDefault); def {
				return true
			}
		}
	}
	return false
}

// planGeneratedKeys plans an INSERT whose rows (some or all) leave the
// key to its default: DEFAULT VALUES, a column list without the key,
// DEFAULT in the key's place. The statement gets the key column (and
// OVERRIDING SYSTEM VALUE, for GENERATED ALWAYS identity keys) with a
// parameter for each generated key.
func planGeneratedKeys(ctx *Context, a *analysis, t *shardmap.Table, s *pg_query.InsertStmt, sel *pg_query.SelectStmt, keyCol int, sql string) (Plan, error) {
	name := tableName(t)
	if s.Override == pg_query.OverridingKind_OVERRIDING_USER_VALUE {
		return nil, pgerror.Unsupported("INSERT ... OVERRIDING USER VALUE into distributed table %s is not supported: the router must know every row's key", name)
	}
	ns := proto.Clone(s).(*pg_query.InsertStmt)
	ns.Override = pg_query.OverridingKind_OVERRIDING_SYSTEM_VALUE
	if sel != nil && (len(sel.ValuesLists) == 0 || sel.WithClause != nil || len(sel.SortClause) > 0 || sel.LimitCount != nil || sel.LimitOffset != nil || !readsOnlyReferenceTables(a)) {
		if keyCol >= 0 {
			return nil, pgerror.Unsupported("DEFAULT for distribution key %s of table %s in an INSERT whose rows the router computes is not supported", t.Key, name).
				WithHint("Leave %s out of the column list to take its default for every row.", t.Key)
		}
		ns.Cols = append(ns.Cols, resTarget(t.Key, nil))
		nsel := unwrap(ns.SelectStmt).(*pg_query.SelectStmt)
		p, err := pullInsert(ctx, t, ns, nsel, len(s.Cols), sql)
		if err != nil {
			return nil, err
		}
		is := p.(*InsertSelect)
		is.GenerateKey = true
		return is, nil
	}
	next := max(len(ctx.ParamOIDs), maxParam(s)) + 1
	first := next
	param := func() *pg_query.Node {
		n := &pg_query.Node{Node: &pg_query.Node_ParamRef{ParamRef: &pg_query.ParamRef{Number: int32(next)}}}
		next++
		return n
	}
	var keys []KeyExpr
	if sel == nil {
		ns.Cols = []*pg_query.Node{resTarget(t.Key, nil)}
		ns.SelectStmt = &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: &pg_query.SelectStmt{
			ValuesLists: []*pg_query.Node{{Node: &pg_query.Node_List{List: &pg_query.List{Items: []*pg_query.Node{param()}}}}},
		}}}
		keys = []KeyExpr{{Param: first}}
	} else {
		if keyCol < 0 {
			ns.Cols = append(ns.Cols, resTarget(t.Key, nil))
		}
		for _, row := range unwrap(ns.SelectStmt).(*pg_query.SelectStmt).ValuesLists {
			l, ok := unwrap(row).(*pg_query.List)
			if !ok {
				return nil, pgerror.New(pgerror.SyntaxError, "INSERT has more target columns than expressions")
			}
			if keyCol < 0 {
				p := param()
				l.Items = append(l.Items, p)
				keys = append(keys, KeyExpr{Param: int(p.GetParamRef().Number)})
				continue
			}
			if keyCol >= len(l.Items) {
				return nil, pgerror.New(pgerror.SyntaxError, "INSERT has more target columns than expressions")
			}
			if _, def := unwrap(l.Items[keyCol]).(*pg_query.SetToDefault); def {
				p := param()
				l.Items[keyCol] = p
				keys = append(keys, KeyExpr{Param: int(p.GetParamRef().Number)})
				continue
			}
			k, ok, err := a.keyValue(l.Items[keyCol], t.Distribution.KeyType)
			if err != nil {
				return nil, err
			}
			if !ok || k.Null {
				return nil, pgerror.Unsupported("an INSERT into %s with DEFAULT for distribution key %s in some rows and a computed or NULL key in others is not supported", name, t.Key)
			}
			keys = append(keys, k)
		}
	}
	text, err := deparse(ctx, ns)
	if err != nil {
		return nil, err
	}
	return &GenKeys{SQL: sql, Table: t, First: first, Count: next - first, Inner: newSplitInsert(ctx, t, ns, keys, text)}, nil
}

// readsOnlyReferenceTables reports a statement whose only tables of the
// map, besides its target, are reference tables, and that names no other
// table.
func readsOnlyReferenceTables(a *analysis) bool {
	for _, r := range a.rels {
		if !r.write && !r.table.Reference {
			return false
		}
	}
	return len(a.unmapped) == 0
}

// maxParam is the highest $n a statement uses.
func maxParam(msg proto.Message) int {
	n := 0
	for _, p := range paramRefs(msg) {
		n = max(n, int(p.Number))
	}
	return n
}

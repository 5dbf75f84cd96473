package planner

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// FanOut runs a write unchanged on every cluster its target resolves to,
// inside the client's transaction (so two-phase commit makes it atomic
// when it reaches several clusters). Each cluster changes only the rows
// it holds: the command tags add up and RETURNING rows are concatenated
// (PostgreSQL promises no order for them either).
type FanOut struct {
	SQL    string
	Target Target
	// Reason says why every cluster gets it, for EXPLAIN.
	Reason string

	// rewritten is set when SQL is a rewrite of the statement (a
	// vertically partitioned table's groups), to run instead of its text.
	rewritten bool
}

func (f *FanOut) explain(b *strings.Builder) {
	fmt.Fprintf(b, "Fan-out write (atomic): %s\n  %s\n", f.Target.String(), f.Reason)
}

// planFanOut plans an UPDATE or DELETE of a distributed table whose rows
// lie on several clusters: it runs on each of them when every row it
// changes, and every row it reads to decide, lives with the changed row
// (tables co-located with the target and joined to it on the key, and
// reference tables).
func planFanOut(ctx *Context, a *analysis, stmt proto.Message) (*FanOut, error) {
	var rel *pg_query.RangeVar
	var from []*pg_query.Node
	var where *pg_query.Node
	var with *pg_query.WithClause
	kind := "UPDATE"
	switch s := stmt.(type) {
	case *pg_query.UpdateStmt:
		rel, from, where, with = s.Relation, s.FromClause, s.WhereClause, s.WithClause
	case *pg_query.DeleteStmt:
		rel, from, where, with = s.Relation, s.UsingClause, s.WhereClause, s.WithClause
		kind = "DELETE"
	default:
		return nil, nil
	}
	var target *relRef
	for _, r := range a.rels {
		if r.write && r.rv == rel {
			target = r
		}
	}
	if target == nil || !target.distributed() {
		return nil, nil
	}
	name := tableName(target.table)
	switch {
	case with != nil:
		return nil, pgerror.Unsupported("%s with WITH queries over rows of table %s on several clusters is not supported", kind, name).
			WithHint("Move the WITH query into a subquery, or restrict %s to one cluster with a condition on %s.", name, target.table.Key)
	case a.systemColumns:
		return nil, pgerror.Unsupported("%s naming system columns (ctid, xmin, ...) over rows of table %s on several clusters is not supported: each cluster has its own", kind, name)
	case hasCurrentOf(where):
		return nil, pgerror.Unsupported("%s ... WHERE CURRENT OF on table %s is not supported here: declare the cursor with a condition on %s", kind, name, target.table.Key)
	case len(a.unmapped) > 0:
		return nil, pgerror.Unsupported("%s of table %s over several clusters that reads table %s, which is not in the shard map, is not supported", kind, name, a.unmapped[0]).
			WithHint("Add %s to the shard map (as a reference table, for example).", a.unmapped[0])
	}
	dist := []*relRef{target}
	var top []*relRef
	local := localSubqueries(ctx, where, target)
	for _, r := range a.rels {
		if r == target || r.table.Reference || local[r.rv] {
			continue
		}
		if r.depth != 0 || r.table.Distribution != target.table.Distribution {
			return nil, pgerror.Unsupported("%s of table %s over several clusters that reads table %s is not supported: only tables co-located with %s and joined on %s, and reference tables, can be read", kind, name, tableName(r.table), name, target.table.Key).
				WithHint("Restrict the statement to one cluster with a condition on %s, or read %s in the application first.", target.table.Key, tableName(r.table))
		}
		dist = append(dist, r)
	}
	for _, r := range a.rels {
		if r.depth == 0 {
			top = append(top, r)
		}
	}
	fake := &pg_query.SelectStmt{WhereClause: where, FromClause: from}
	if !joinedOnKeys(a, fake, dist, top) {
		return nil, pgerror.Unsupported("%s of table %s over several clusters that reads co-located tables without joining them on %s is not supported", kind, name, target.table.Key).
			WithHint("Join every distributed table on its distribution key (for example o.customer_id = c.id).")
	}
	return &FanOut{Target: pinnedTarget(dist, target.table.Distribution), Reason: fmt.Sprintf("%s of %s on every cluster that holds its rows", kind, name)}, nil
}

// pinnedTarget is where rows of co-located tables joined on their keys
// can be: the clusters of the narrowest key condition among them, else
// every cluster of the distribution.
func pinnedTarget(rels []*relRef, d *shardmap.Distribution) Target {
	var best *Pin
	for _, r := range rels {
		if r.pin != nil && (best == nil || len(r.pin.Values) < len(best.Values)) {
			best = r.pin
		}
	}
	return pinTarget(best, d)
}

// pinTarget is the clusters a key condition selects, or every cluster of
// the distribution without one.
func pinTarget(best *Pin, d *shardmap.Distribution) Target {
	var t Target
	if best != nil {
		t.addPin(*best)
	} else {
		t.addStatic(d.Clusters()...)
	}
	t.finish()
	return t
}

// hasCurrentOf reports WHERE CURRENT OF cursor.
func hasCurrentOf(where *pg_query.Node) bool {
	found := false
	inspect(unwrap(where), func(m proto.Message) bool {
		if _, ok := m.(*pg_query.CurrentOfExpr); ok {
			found = true
		}
		return !found
	})
	return found
}

// joinedOnKeys reports whether the distributed tables are all joined on
// their distribution keys (directly or through each other), by equalities
// in WHERE or in the ON conditions of joins.
func joinedOnKeys(a *analysis, s *pg_query.SelectStmt, dist, top []*relRef) bool {
	if len(dist) == 1 {
		return true
	}
	parent := map[*relRef]*relRef{}
	var find func(r *relRef) *relRef
	find = func(r *relRef) *relRef {
		if p, ok := parent[r]; ok && p != r {
			root := find(p)
			parent[r] = root
			return root
		}
		return r
	}
	link := func(qual *pg_query.Node) {
		for _, c := range conjuncts(qual) {
			e, ok := unwrap(c).(*pg_query.A_Expr)
			if !ok || e.Kind != pg_query.A_Expr_Kind_AEXPR_OP || !isEqualsOperator(e.Name) {
				continue
			}
			l, r := a.keyColumn(e.Lexpr, dist), a.keyColumn(e.Rexpr, dist)
			if l != nil && r != nil && l != r {
				parent[find(l)] = find(r)
			}
		}
	}
	link(s.WhereClause)
	var walk func(n *pg_query.Node)
	walk = func(n *pg_query.Node) {
		if j, ok := unwrap(n).(*pg_query.JoinExpr); ok {
			walk(j.Larg)
			walk(j.Rarg)
			if j.Jointype != pg_query.JoinType_JOIN_FULL {
				link(j.Quals)
			}
		}
	}
	for _, f := range s.FromClause {
		walk(f)
	}
	root := find(dist[0])
	for _, r := range dist[1:] {
		if find(r) != root {
			return false
		}
	}
	return true
}

// outerJoinsKeepRows reports whether no outer join keeps rows of reference
// tables alone against distributed rows: each cluster would return those

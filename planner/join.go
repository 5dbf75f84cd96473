package planner

import (
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// Join is a read that joins tables whose rows are not co-located: tables
// of different distributions, or of one distribution not joined on the
// key. Three strategies give the exact answer; the executor chooses one
// per execution from row estimates of each side (the clusters' own
// EXPLAIN of the side's filtered read):
//
//   - broadcast: the filtered rows of the small sides are read once and
//     shipped, as array parameters, to every cluster of the remaining
//     tables, where they stand in for their tables the way a reference
//     table would; the statement then runs as a Scatter or a Combine;
//   - repartition: the rows of two sides are read and dealt to clusters by
//     the value of the columns their join compares, so that rows that can
//     match meet on one cluster; each cluster joins its share;
//   - gather: every table's filtered rows go to the coordinator, which runs
//     the statement (Finish).
type Join struct {
	SQL string
	// Sides are the tables a strategy moves: Sides[i].SQL reads the rows
	// of one occurrence, filtered by the conditions on it alone, and
	// Sides[i].Name is the name the workers below give its shipped rows.
	Sides []*Gather
	// Broadcasts are the ways to ship some sides to the others' clusters.
	Broadcasts []*JoinBroadcast
	// Repartition is nil when the statement is not two sides joined by an
	// equality of their columns.
	Repartition *JoinRepartition
	// Gather is the general way, and the fallback of the others.
	Gather *Finish
}

// JoinBroadcast ships some sides to every cluster of the others.
type JoinBroadcast struct {
	// Ship lists the shipped sides (indexes into Join.Sides).
	Ship []int
	// Inner is the *Scatter or *Combine that runs on the clusters; its
	// worker reads each shipped side from parameters, in place of the
	// side's Name.
	Inner Plan
}

// JoinRepartition deals the rows of two sides to clusters by the columns
// their join compares.
type JoinRepartition struct {
	Sides [2]int
	// Columns are the compared columns of each side's rows.
	Columns [2]string
	// On is the equality, for EXPLAIN.
	On string
	// Clusters are where the shares go, sorted: share i to Clusters[i].
	Clusters []string
	// Inner is the *Scatter or *Combine each cluster runs over its share,
	// reading both sides from parameters.
	Inner Plan
}

// shipPrefix starts the names the workers give shipped rows.
const shipPrefix = "_sqlrouter_rows_"

// maxBroadcastPlans bounds the broadcast strategies tried per statement.
const maxBroadcastPlans = 8

func (j *Join) explain(b *strings.Builder) {
	b.WriteString("Join across distributions (strategy chosen at execution from row estimates)\n")
	for i, g := range j.Sides {
		fmt.Fprintf(b, "  side %d: %s from %s\n    %s\n", i+1, g.Source, g.Target.String(), g.SQL)
	}
	indent := func(p Plan) {
		for _, line := range strings.Split(Explain(p), "\n") {
			b.WriteString("    " + line + "\n")
		}
	}
	for _, bc := range j.Broadcasts {
		fmt.Fprintf(b, "  broadcast %s:\n", sideList(bc.Ship))
		indent(bc.Inner)
	}
	if r := j.Repartition; r != nil {
		fmt.Fprintf(b, "  repartition sides %d and %d by %s over %s:\n", r.Sides[0]+1, r.Sides[1]+1, r.On, strings.Join(r.Clusters, ", "))
		indent(r.Inner)
	}
	b.WriteString("  gather:\n")
	indent(j.Gather)
}

func sideList(ship []int) string {
	var parts []string
	for _, i := range ship {
		parts = append(parts, fmt.Sprint(i+1))
	}
	if len(parts) == 1 {
		return "side " + parts[0]
	}
	return "sides " + strings.Join(parts, ", ")
}

// planJoin plans a read whose rows are spread over clusters in ways the
// merge cannot reassemble: a Join with every strategy that applies, or a
// Finish when gathering is the only one.
func planJoin(ctx *Context, stmt proto.Message, sql string) (Plan, error) {
	fp, err := planFinish(ctx, stmt, sql)
	if err != nil {
		return nil, err
	}
	f, isFinish := fp.(*Finish)
	s, ok := stmt.(*pg_query.SelectStmt)
	if !ok || !isFinish {
		return fp, nil
	}
	base := proto.Clone(s).(*pg_query.SelectStmt)
	a := newAnalysis(ctx)
	a.visit(base, nil)
	if a.err != nil || len(a.unmapped) > 0 || a.systemColumns || a.sequences || a.catalog {
		return f, nil
	}
	j := &Join{SQL: sql, Gather: f}
	rvs := rangeVars(base)
	occ := map[*relRef]int{} // occurrence -> index in rvs
	var sides []*relRef
	for _, r := range a.all {
		if r.table == nil || r.table.Vertical != nil {
			return f, nil
		}
		occ[r] = slices.Index(rvs, r.rv)
		if r.distributed() {
			g, err := gatherFor(ctx, r, len(sides)+1)
			if err != nil {
				return nil, err
			}
			g.Name = fmt.Sprintf("%s%d", shipPrefix, len(sides)+1)
			j.Sides = append(j.Sides, g)
			sides = append(sides, r)
		}
	}
	if len(sides) < 2 {
		return f, nil
	}
	// rewrite renames the chosen sides in a copy of the statement and
	// plans it with their made-up tables.
	rewrite := func(tables map[int]*shardmap.Table) (Plan, bool, error) {
		cl := proto.Clone(base).(*pg_query.SelectStmt)
		crvs := rangeVars(cl)
		vctx := *ctx
		vctx.virtual = map[string]*shardmap.Table{}
		for i, t := range tables {
			r := sides[i]
			rv := crvs[occ[r]]
			alias := &pg_query.Alias{Aliasname: r.refName}
			if rv.Alias != nil {
				alias.Colnames = rv.Alias.Colnames
			}
			*rv = pg_query.RangeVar{Relname: t.Name, Inh: true, Relpersistence: "p", Alias: alias, Location: rv.Location}
			vctx.virtual[t.Name] = t
		}
		p, ok, err := planScatter(&vctx, cl, sql)
		if err != nil || !ok {
			return nil, false, err
		}
		switch p := p.(type) {
		case *Scatter:
			// A key whose order needs the coordinator falls back to the
			// general way, not to gathering made-up tables.
			if p.Fallback != nil {
				p.Fallback = f
			}
		case *Combine:
		default:
			return nil, false, nil
		}
		return p, true, nil
	}
	if err := j.broadcasts(sides, rewrite); err != nil {
		return nil, err
	}
	if err := j.repartition(ctx, a, base, sides, rewrite); err != nil {
		return nil, err
	}
	if len(j.Broadcasts) == 0 && j.Repartition == nil {
		return f, nil
	}
	return j, nil
}

// broadcasts tries, for each distribution, to keep its tables in place
// and ship every other side; when its own tables are not joined on their
// keys, to keep one of them.
func (j *Join) broadcasts(sides []*relRef, rewrite func(map[int]*shardmap.Table) (Plan, bool, error)) error {
	var anchors [][]int
	var dists []*shardmap.Distribution
	for _, r := range sides {
		if !slices.Contains(dists, r.table.Distribution) {
			dists = append(dists, r.table.Distribution)
		}
	}
	for _, d := range dists {
		var all []int
		for i, r := range sides {
			if r.table.Distribution == d {
				all = append(all, i)
			}
		}
		anchors = append(anchors, all)
		if len(all) > 1 {
			for _, i := range all {
				anchors = append(anchors, []int{i})
			}
		}
	}
	seen := map[string]bool{}
	for _, keep := range anchors {
		if len(j.Broadcasts) >= maxBroadcastPlans {
			break
		}
		tables := map[int]*shardmap.Table{}
		var ship []int
		for i := range sides {
			if !slices.Contains(keep, i) {
				ship = append(ship, i)
				tables[i] = &shardmap.Table{Name: j.Sides[i].Name, Schema: "public", Reference: true}
			}
		}
		key := fmt.Sprint(ship)
		if len(ship) == 0 || seen[key] {
			continue
		}
		seen[key] = true
		inner, ok, err := rewrite(tables)
		if err != nil {
			return err
		}
		if ok {
			j.Broadcasts = append(j.Broadcasts, &JoinBroadcast{Ship: ship, Inner: inner})
		}
	}
	return nil
}

// repartition plans the dealing of two sides by an equality of their
// columns, when the statement reads exactly two sides, both in its own
// FROM list.
func (j *Join) repartition(ctx *Context, a *analysis, s *pg_query.SelectStmt, sides []*relRef, rewrite func(map[int]*shardmap.Table) (Plan, bool, error)) error {
	if len(sides) != 2 || sides[0].depth != 1 || sides[1].depth != 1 {
		return nil
	}
	pair := []*relRef{sides[0], sides[1]}
	var quals []*pg_query.Node
	quals = append(quals, conjuncts(s.WhereClause)...)
	for _, f := range s.FromClause {
		inspect(unwrap(f), func(m proto.Message) bool {
			switch x := m.(type) {
			case *pg_query.JoinExpr:
				quals = append(quals, conjuncts(x.Quals)...)
			case *pg_query.RangeSubselect, *pg_query.SubLink:
				return false
			}
			return true
		})
	}
	for _, q := range quals {
		e, ok := unwrap(q).(*pg_query.A_Expr)
		if !ok || e.Kind != pg_query.A_Expr_Kind_AEXPR_OP || !isEqualsOperator(e.Name) {
			continue
		}
		lc, lok := unwrap(e.Lexpr).(*pg_query.ColumnRef)
		rc, rok := unwrap(e.Rexpr).(*pg_query.ColumnRef)
		if !lok || !rok {
			continue
		}
		l, r := resolveColumn(lc, pair, false), resolveColumn(rc, pair, false)
		if l == nil || r == nil || l == r {
			continue
		}
		cols := [2]string{stringValue(lc.Fields[len(lc.Fields)-1]), stringValue(rc.Fields[len(rc.Fields)-1])}
		if l != sides[0] {
			cols[0], cols[1] = cols[1], cols[0]
		}
		// Reference tables the statement reads are read where the shares
		// go: only clusters whose copies are complete.
		clusters := ctx.Map.ActiveClusters()
		slices.Sort(clusters)
		// Text keys never fail to parse: constants compared with the
		// columns cannot make the plan fail, and the clusters are set
		// below whatever they pin.
		d := shardmap.NewHashDistribution("_sqlrouter_repartition", shardmap.KeyTypeText, clusters)
		tables := map[int]*shardmap.Table{
			0: {Name: j.Sides[0].Name, Schema: "public", Distribution: d, Key: cols[0]},
			1: {Name: j.Sides[1].Name, Schema: "public", Distribution: d, Key: cols[1]},
		}
		inner, ok, err := rewrite(tables)
		if err != nil || !ok {
			return err
		}
		var t Target
		t.addStatic(clusters...)
		t.finish()
		switch p := inner.(type) {
		case *Scatter:
			p.Target = t
		case *Combine:
			p.Target = t
		}
		on, _ := deparseExpr(ctx, q)
		j.Repartition = &JoinRepartition{Sides: [2]int{0, 1}, Columns: cols, On: on, Clusters: clusters, Inner: inner}
		return nil
	}
	return nil
}

// rangeVars lists the RangeVars of a tree in walk order: a copy of the
// tree lists its own in the same order.
func rangeVars(msg proto.Message) []*pg_query.RangeVar {
	var out []*pg_query.RangeVar
	inspect(msg, func(m proto.Message) bool {
		if rv, ok := m.(*pg_query.RangeVar); ok {
			out = append(out, rv)
		}
		return true
	})
	return out
}

// deparseExpr prints one expression as SQL.
func deparseExpr(ctx *Context, n *pg_query.Node) (string, error) {
	sel := &pg_query.SelectStmt{TargetList: []*pg_query.Node{resTarget("", proto.Clone(n).(*pg_query.Node))}}
	sql, err := deparse(ctx, sel)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(sql, "SELECT "), nil
}

// extraTable finds the tables a plan makes up for one statement, and the
// physical tables of vertical groups.
func (c *Context) extraTable(schema, name string) *shardmap.Table {
	if schema == "" && strings.HasPrefix(name, shipPrefix) {
		return c.virtual[name]
	}
	if schema != "" {
		t, _ := c.Map.LookupPhysical(schema, name)
		return t
	}
	for _, s := range c.searchPath() {
		if t, ok := c.Map.LookupPhysical(s, name); ok {
			return t
		}
	}
	return nil
}

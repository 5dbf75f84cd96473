package planner

import (
	"errors"
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// planStatement plans one parsed statement whose text is sql.
func planStatement(ctx *Context, raw *pg_query.RawStmt, sql string) (Plan, error) {
	if err := checkReadingSettings(ctx, raw.Stmt, sql); err != nil {
		return nil, err
	}
	if p, ok, err := planVertical(ctx, raw, sql); ok || err != nil {
		return p, err
	}
	switch s := unwrap(raw.Stmt).(type) {
	case *pg_query.SelectStmt, *pg_query.UpdateStmt, *pg_query.DeleteStmt:
		return planDML(ctx, s, sql)
	case *pg_query.InsertStmt:
		return planInsert(ctx, s, sql)
	case *pg_query.TransactionStmt:
		return planTransaction(s, sql)
	case *pg_query.VariableSetStmt:
		return planSet(s, sql)
	case *pg_query.VariableShowStmt:
		name := strings.ToLower(s.Name)
		if strings.HasPrefix(name, "sqlrouter.") {
			return &ShowRouter{Name: name}, nil
		}
		return defaultRoute(ctx, sql, false), nil
	case *pg_query.DiscardStmt:
		return &Discard{SQL: sql, All: s.Target == pg_query.DiscardMode_DISCARD_ALL,
			Temp: s.Target == pg_query.DiscardMode_DISCARD_ALL || s.Target == pg_query.DiscardMode_DISCARD_TEMP}, nil
	case *pg_query.DeallocateStmt:
		if !s.Isall {
			return nil, pgerror.New(pgerror.UndefinedPreparedStmt, "prepared statement \"%s\" does not exist", s.Name)
		}
		return &Deallocate{All: true}, nil
	case *pg_query.PrepareStmt, *pg_query.ExecuteStmt:
		return nil, pgerror.Unsupported("SQL-level PREPARE and EXECUTE are not supported").
			WithHint("Use the extended query protocol (your driver's prepared statements) instead.")
	case *pg_query.DeclareCursorStmt:
		return planDeclare(ctx, s, sql)
	case *pg_query.FetchStmt:
		return &CursorCommand{SQL: sql, Name: s.Portalname}, nil
	case *pg_query.ClosePortalStmt:
		return &CursorCommand{SQL: sql, Name: s.Portalname, All: s.Portalname == "", Close: true}, nil
	case *pg_query.ExplainStmt:
		return planExplain(ctx, s, sql)
	case *pg_query.CopyStmt:
		return planCopy(ctx, s, sql)
	case nil:
		return &Empty{}, nil
	default:
		return planUtility(ctx, s, sql)
	}
}

// planDML plans a SELECT, UPDATE or DELETE (with any WITH queries,
// subqueries and joins).
func planDML(ctx *Context, stmt proto.Message, sql string) (Plan, error) {
	a := newAnalysis(ctx)
	a.visit(stmt, nil)
	if a.err != nil {
		return nil, a.err
	}
	write := a.selectInto || hasLocking(stmt)
	for _, r := range a.rels {
		write = write || r.write
	}
	var move *KeyMove
	switch s := stmt.(type) {
	case *pg_query.UpdateStmt:
		write = true
		var err error
		if move, err = keyAssignment(a, s); err != nil {
			return nil, err
		}
	case *pg_query.DeleteStmt:
		write = true
	}
	if a.selectInto && len(a.rels) > 0 {
		return nil, pgerror.Unsupported("SELECT ... INTO with tables of the shard map is not supported").
			WithHint("Use CREATE TABLE and INSERT, or read the rows into your application.")
	}
	p, err := routeFor(ctx, a, sql, write)
	if err != nil && hasLocking(stmt) && spansClusters(err) {
		return nil, pgerror.Unsupported("SELECT ... FOR UPDATE/SHARE over rows of several clusters is not supported yet")
	}
	if move != nil {
		if err != nil {
			if spansClusters(err) {
				return nil, keyMoveError(move.Table).WithHint("Restrict the UPDATE to one cluster with a condition on %s, or delete the rows and insert them with the new key in one transaction.", move.Table.Key)
			}
			return nil, err
		}
		return placeKeyMove(p, move)
	}
	if err != nil && ctx.shape != nil && spansClusters(err) {
		return nil, err // a shape's template is a Route or nothing
	}
	if err != nil && write && spansClusters(err) {
		// A write whose rows lie on several clusters.
		if f, ferr := planFanOut(ctx, a, stmt); f != nil || ferr != nil {
			if ferr != nil {
				return nil, ferr
			}
			f.SQL = sql
			return f, nil
		}
	}
	if err != nil && !write && spansClusters(err) {
		// A read whose rows lie on several clusters.
		return planSpread(ctx, stmt, sql)
	}
	// A shape's template serves only texts whose keys land on one cluster.
	if r, ok := p.(*Route); ok && ctx.shape == nil && mayChooseSeveral(r.Target) {
		// Parameters may spread the keys over several clusters.
		if !write {
			if spread, err := planSpread(ctx, stmt, sql); err == nil {
				r.Spread = spread
			}
		} else if f, ferr := planFanOut(ctx, a, stmt); f != nil && ferr == nil {
			f.SQL = sql
			r.Spread = f
		}
	}
	return p, err
}

// mayChooseSeveral reports whether parameters can send a statement to
// several clusters: a key compared with several values, or several tables
// placed independently.
func mayChooseSeveral(t Target) bool {
	if !t.Deferred() {
		return false
	}
	if len(t.Pins) > 1 {
		return true
	}
	for _, p := range t.Pins {
		if len(p.Values)+len(p.Ranges) > 1 || len(p.Ranges) > 0 {
			return true
		}
		for _, v := range p.Values {
			if v.Array {
				return true
			}
		}
	}
	return false
}

// planSpread plans a read whose rows lie on several clusters: merged in
// the router when its rows decompose by cluster, else finished at the
// coordinator.
func planSpread(ctx *Context, stmt proto.Message, sql string) (Plan, error) {
	if p, ok, err := planScatter(ctx, stmt, sql); ok || err != nil {
		return p, err
	}
	return planJoin(ctx, stmt, sql)
}

// spansClusters reports the errors routeFor gives for statements that need
// more than one cluster.
func spansClusters(err error) bool {
	var e *errSpans
	return errors.As(err, &e)
}

// hasLocking reports SELECT ... FOR UPDATE/SHARE: it takes row locks, so it
// belongs with writes on a primary.
func hasLocking(stmt proto.Message) bool {
	s, ok := stmt.(*pg_query.SelectStmt)
	return ok && len(s.LockingClause) > 0
}

// routeFor chooses where a statement whose tables were analyzed runs.
func routeFor(ctx *Context, a *analysis, sql string, write bool) (Plan, error) {
	var dist, refs, refWrites []*relRef
	for _, r := range a.rels {
		switch {
		case r.table.Vertical != nil:
			return nil, pgerror.Unsupported("vertically partitioned table %s is not supported yet", tableName(r.table))
		case r.table.Reference:
			refs = append(refs, r)
			if r.write {
				refWrites = append(refWrites, r)
			}
		default:
			dist = append(dist, r)
		}
	}
	if len(refWrites) > 0 {
		return planReferenceWrite(ctx, a, refWrites[0], sql, len(dist) > 0)
	}
	t := Target{}
	switch {
	case len(dist) > 0:
		if len(a.unmapped) > 0 {
			return nil, mixedTablesError(dist[0], a.unmapped[0])
		}
		for _, r := range dist {
			if r.pin == nil {
				return nil, unpinnedError(r)
			}
			t.addPin(*r.pin)
		}
		if t.finish(); len(t.Static) > 1 {
			return nil, &errSpans{severalClustersError(t.Static).(*pgerror.Error)}
		}
	case len(refs) > 0 && len(a.unmapped) == 0 && !write:
		// Reference tables only: any copy answers.
		t.AnyOf = referenceCopies(ctx.Map)
	default:
		// Tables outside the map (and catalogs) live on the default
		// cluster, which also holds a copy of every reference table.
		t.addStatic(ctx.Map.DefaultClusterName())
	}
	t.finish()
	return &Route{SQL: sql, Target: t, Write: write, ReadOnly: !write && a.readOnly()}, nil
}

func defaultRoute(ctx *Context, sql string, write bool) *Route {
	t := Target{}
	t.addStatic(ctx.Map.DefaultClusterName())
	return &Route{SQL: sql, Target: t, Write: write}
}

// planReferenceWrite sends a write of a reference table to every copy.
func planReferenceWrite(ctx *Context, a *analysis, r *relRef, sql string, withDistributed bool) (Plan, error) {
	switch {
	case withDistributed:
		return nil, pgerror.Unsupported("a write to reference table %s that also reads distributed tables is not supported", tableName(r.table))
	case len(a.unmapped) > 0:
		return nil, pgerror.Unsupported("a write to reference table %s that also reads table %s outside the shard map is not supported", tableName(r.table), a.unmapped[0])
	case a.funcs:
		return nil, pgerror.Unsupported("a write to reference table %s that calls functions is not supported: each copy could compute a different value", tableName(r.table)).
			WithHint("Compute the value in the application and pass it as a constant or parameter.")
	}
	return &Broadcast{SQL: sql, Clusters: tableClusters(ctx.Map, r.table), Transactional: true, DataWrite: true, Reason: fmt.Sprintf("write to reference table %s", tableName(r.table))}, nil
}

// errSpans marks the refusals of a statement that needs several clusters
// (a read may still run as a Finish).
type errSpans struct{ err *pgerror.Error }

func (e *errSpans) Error() string { return e.err.Error() }
func (e *errSpans) Unwrap() error { return e.err }

func unpinnedError(r *relRef) error {
	return &errSpans{pgerror.Unsupported("table %s is not restricted to one value of its distribution key %s; statements that span clusters are not supported yet", tableName(r.table), r.table.Key).
		WithHint("Add a condition such as %s = constant (or = $1).", r.table.Key)}
}

func mixedTablesError(r *relRef, unmapped string) error {
	return &errSpans{pgerror.Unsupported("statement combines distributed table %s with table %s, which is not in the shard map", tableName(r.table), unmapped).
		WithHint("Add %s to the shard map (as a reference table, for example).", unmapped)}
}

func planDeclare(ctx *Context, s *pg_query.DeclareCursorStmt, sql string) (Plan, error) {
	inner, err := planDML(ctx, unwrap(s.Query), sql)
	if err != nil {
		return nil, err
	}
	r, ok := inner.(*Route)
	if !ok {
		return nil, pgerror.Unsupported("DECLARE of a cursor over a statement that runs on several clusters is not supported")
	}
	return &Route{SQL: sql, Target: r.Target, Write: r.Write, DeclareCursor: s.Portalname}, nil
}

func planCopy(ctx *Context, s *pg_query.CopyStmt, sql string) (Plan, error) {
	if p, err := PlanCopy(ctx, s, sql); p != nil || err != nil {
		return p, err
	}
	if s.Query != nil {
		inner, err := planDML(ctx, unwrap(s.Query), sql)
		if err != nil {
			return nil, err
		}
		r, ok := inner.(*Route)
		if !ok {
			return nil, pgerror.Unsupported("COPY of a query that runs on several clusters is not supported yet")
		}
		return &Route{SQL: sql, Target: r.Target, Write: r.Write}, nil
	}
	if s.Relation != nil {
		if t := ctx.lookupTable(s.Relation.Schemaname, s.Relation.Relname); t != nil {
			return nil, pgerror.Unsupported("COPY of table %s of the shard map is not supported yet", tableName(t))
		}
	}
	r := defaultRoute(ctx, sql, s.IsFrom)
	r.CopyIn = s.IsFrom && s.Filename == ""
	return r, nil
}

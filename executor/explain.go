package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/planner"
)

// runExplain answers EXPLAIN: the distributed plan, then every cluster's
// own EXPLAIN of the query it gets (with ANALYZE, the query runs there and
// the plan has the cluster's timings). The coordinator's final query is
// shown as text: it reads tables that exist only while a statement runs.
func (s *Session) runExplain(ctx context.Context, e *planner.ExplainPlan, bound *boundParams, describe bool) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.pipe.failed {
		return nil
	}
	params, oids := bound.values()
	inner := e.Inner
	type shardPlan struct {
		Step    string          `json:"Step"`
		Cluster string          `json:"Cluster"`
		SQL     string          `json:"SQL"`
		Plan    json.RawMessage `json:"Plan"`
	}
	var text []string
	var plans []shardPlan
	text = append(text, "Distributed plan (sqlrouter):")
	for _, line := range strings.Split(planner.Explain(e.Inner), "\n") {
		text = append(text, "  "+line)
	}
	// ANALYZE runs the statement: a write belongs on the primaries, in the
	// client's transaction, as the statement itself would.
	rd := reading{readOnly: !e.Analyze || !writes(e.Inner)}
	var steps []planner.Step
	if j, ok := inner.(*planner.Join); ok {
		// The strategy this execution would take, with its sides shipped
		// for real (their reads are explained first).
		ch, err := s.chooseJoin(ctx, j, params, oids, "")
		if err != nil {
			return s.stmtError(ctx, err)
		}
		inner = j.Gather
		text = append(text, "Join strategy: "+ch.name()+" ("+ch.note+")")
		if ch.broadcast != nil || ch.repartition != nil {
			shippedPlan, shipped, err := s.ship(ctx, j, ch, bound, "")
			switch {
			case errors.Is(err, errCannotShip):
				text = append(text, "Join strategy: gather (the sides cannot be shipped)")
			case err != nil:
				return s.stmtError(ctx, err)
			default:
				inner, rd.ship = shippedPlan, shipped.ship
				for _, i := range shippedSides(ch) {
					g := j.Sides[i]
					steps = append(steps, planner.Step{What: fmt.Sprintf("read side %d (%s)", i+1, g.Source), SQL: g.SQL, Params: g.Params, Target: g.Target})
				}
			}
		}
	}
	innerSteps, final := planner.Steps(inner)
	shipFrom := len(steps)
	steps = append(steps, innerSteps...)
	for k, st := range steps {
		clusters, err := st.Target.Resolve(params)
		if err != nil {
			return s.stmtError(ctx, err)
		}
		conns, err := s.prepareReaders(ctx, clusters, rd)
		if err != nil {
			return s.stmtError(ctx, err)
		}
		values, formats, sOIDs := params.Values, params.Formats, oids
		if st.Params != nil {
			values, formats, sOIDs = subsetParams(params, oids, st.Params)
		}
		sql := "EXPLAIN " + st.SQL
		if e.Options != "" {
			sql = "EXPLAIN (" + e.Options + ") " + st.SQL
		}
		if err := s.quiet(ctx); err != nil {
			return s.stmtError(ctx, err)
		}
		for _, c := range conns {
			s.touched(c.cluster)
			values, formats := values, formats
			if k >= shipFrom {
				values, formats = rd.ship.params(c.cluster, values, formats)
			}
			rows, err := c.queryParams(ctx, sql, sOIDs, values, formats)
			if err != nil {
				return s.stmtError(ctx, err)
			}
			var lines []string
			for _, r := range rows {
				lines = append(lines, r[0])
			}
			if e.JSON {
				plans = append(plans, shardPlan{Step: st.What, Cluster: c.cluster, SQL: st.SQL, Plan: json.RawMessage(strings.Join(lines, "\n"))})
				continue
			}
			text = append(text, c.cluster+": "+st.What)
			for _, l := range lines {
				text = append(text, "  "+l)
			}
		}
	}
	if final != "" && !e.JSON {
		text = append(text, "coordinator: "+final)
	}
	if rd.ship != nil && !e.JSON {
		text = append(text, fmt.Sprintf("rows shipped between nodes: %d", s.rowsShipped))
	}
	if describe {
		s.respond(explainDescription(e))
	}
	if e.JSON {
		doc, _ := json.MarshalIndent([]map[string]any{{
			"Distributed Plan": planner.Explain(e.Inner),
			"Cluster Plans":    plans,
			"Final":            final,
		}}, "", "  ")
		s.respond(&pgproto3.DataRow{Values: [][]byte{doc}})
		s.respond(&pgproto3.CommandComplete{CommandTag: []byte("EXPLAIN")})
		return nil
	}
	for _, l := range text {
		s.respond(&pgproto3.DataRow{Values: [][]byte{[]byte(l)}})
	}
	s.respond(&pgproto3.CommandComplete{CommandTag: []byte("EXPLAIN")})
	return nil
}

// explainDescription is EXPLAIN's row shape: "QUERY PLAN", text or json.
func explainDescription(e *planner.ExplainPlan) *pgproto3.RowDescription {
	oid := uint32(25)
	if e.JSON {
		oid = 114
	}
	return &pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("QUERY PLAN"), DataTypeOID: oid, DataTypeSize: -1, TypeModifier: -1}}}
}

// queryParams runs a query with the extended protocol and returns its rows
// as text. The pipeline must be empty.
func (c *conn) queryParams(ctx context.Context, sql string, oids []uint32, values [][]byte, formats []int16) ([][]string, error) {
	c.Send(&pgproto3.Parse{Query: sql, ParameterOIDs: oids})
	c.SendBind("", "", formats, values, nil)
	c.SendExecute("", 0)
	c.SendSync()
	c.needSync = false
	c.unnamed = ""
	if err := c.Flush(ctx); err != nil {
		return nil, err
	}
	return c.awaitReady(ctx)
}

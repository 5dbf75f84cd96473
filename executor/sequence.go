package executor

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
)

// runSequence runs the steps of a statement on a vertically partitioned
// table one after the other, in the client's transaction (coordinated, so
// that steps on several clusters commit together or not at all).
func (s *Session) runSequence(ctx context.Context, seq *planner.Sequence, bound *boundParams) error {
	var tag string
	var rowDesc []byte
	var rows [][]byte
	for i, step := range seq.Steps {
		var sub *boundParams
		if bound != nil {
			params, oids := bound.subset(step.Params)
			sub = &boundParams{params: *params, oids: oids}
			if i == seq.Returning {
				sub.results = bound.results
			}
		}
		parts, err := stepParts(step.Plan, sub)
		if err != nil {
			return s.stmtError(ctx, err)
		}
		cols, ok, err := s.runParts(ctx, parts, sub.resultFormats())
		if err != nil || !ok {
			return err
		}
		if i == 0 {
			tag = combinedTag(cols)
		}
		if i != seq.Returning {
			continue
		}
		ordered, err := returnedRows(parts, cols)
		if err != nil {
			s.sendError(err)
			s.statementFailed()
			return nil
		}
		rows = ordered
		for _, col := range cols {
			if col.rowDesc != nil {
				rowDesc = col.rowDesc
				break
			}
		}
	}
	if rowDesc != nil && bound == nil {
		s.client.WriteRaw('T', rowDesc)
	}
	for _, r := range rows {
		s.client.WriteRaw('D', r)
	}
	s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	return nil
}

// stepParts makes the cluster parts of one step.
func stepParts(p planner.Plan, bound *boundParams) ([]multiPart, error) {
	var params planner.Params
	if bound != nil {
		params = bound.params
	}
	with := func(part multiPart) multiPart {
		if bound != nil {
			part.params, part.oids = &bound.params, bound.oids
		}
		return part
	}
	switch p := p.(type) {
	case *planner.Route:
		if f, ok := p.Spread.(*planner.FanOut); ok {
			if clusters, err := p.Target.Resolve(params); err == nil && len(clusters) > 1 {
				return stepParts(f, bound)
			}
		}
		cluster, err := p.Cluster(params)
		if err != nil {
			return nil, err
		}
		return []multiPart{with(multiPart{cluster: cluster, sql: p.SQL})}, nil
	case *planner.FanOut:
		clusters, err := p.Target.Resolve(params)
		if err != nil {
			return nil, err
		}
		var parts []multiPart
		for _, cl := range clusters {
			parts = append(parts, with(multiPart{cluster: cl, sql: p.SQL}))
		}
		return parts, nil
	case *planner.Broadcast:
		var parts []multiPart
		for _, cl := range p.Clusters {
			parts = append(parts, with(multiPart{cluster: cl, sql: p.SQL}))
		}
		return parts, nil
	case *planner.SplitInsert:
		split, err := p.Split(params)
		if err != nil {
			return nil, err
		}
		var parts []multiPart
		for _, sp := range split {
			part := multiPart{cluster: sp.Cluster, sql: sp.SQL, rows: sp.Rows}
			if bound != nil {
				part.params, part.oids = bound.subset(sp.Params)
			}
			parts = append(parts, part)
		}
		return parts, nil
	}
	return nil, pgerror.New(pgerror.InternalError, "no executor for step %T", p)
}

// combinedTag is the command tag of parts that each did a share of one
// statement: their row counts add up (INSERT 0 n, UPDATE n, DELETE n); a
// statement every cluster ran whole (DDL) answers with the first's.
func combinedTag(cols []*collector) string {
	f := strings.Fields(cols[0].tag)
	if len(f) < 2 {
		return cols[0].tag
	}
	total := 0
	for _, col := range cols {
		g := strings.Fields(col.tag)
		n, err := strconv.Atoi(g[len(g)-1])
		if err != nil {
			return cols[0].tag
		}
		total += n
	}
	f[len(f)-1] = strconv.Itoa(total)
	return strings.Join(f, " ")
}

// returnedRows puts the rows parts returned in the order of the VALUES
// rows they inserted (in cluster order for other statements).
func returnedRows(parts []multiPart, cols []*collector) ([][]byte, error) {
	if parts[0].rows == nil {
		var out [][]byte
		for _, col := range cols {
			out = append(out, col.rows...)
		}
		return out, nil
	}
	total := 0
	for _, p := range parts {
		total += len(p.rows)
	}
	ordered := make([][]byte, total)
	for i, col := range cols {
		if len(col.rows) != len(parts[i].rows) {
			return nil, pgerror.Unsupported("RETURNING over several clusters returned %d rows for %d inserted on cluster %s; the order of the returned rows could not be kept", len(col.rows), len(parts[i].rows), parts[i].cluster)
		}
		for j, r := range col.rows {
			ordered[parts[i].rows[j]] = r
		}
	}
	return ordered, nil
}

// describeSequence answers Describe of a statement on a vertically
// partitioned table: each step is described on a cluster that holds its
// table; the parameters' types come from the steps that use them, the
// row shape from the step that returns rows.
func (s *Session) describeSequence(ctx context.Context, seq *planner.Sequence, oids []uint32, portal bool, formats []int16) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.pipe.failed {
		return nil
	}
	var types []uint32
	var shape pgproto3.BackendMessage = &pgproto3.NoData{}
	for i, step := range seq.Steps {
		c, err := s.routeConn(ctx, stepHome(step.Plan))
		if err == nil {
			err = s.quiet(ctx) // the settings replay queued on c
		}
		if err != nil {
			if err == errSkipped {
				return nil
			}
			return s.fail(ctx, err)
		}
		stepOIDs := make([]uint32, len(step.Params))
		for j, n := range step.Params {
			if n-1 < len(oids) {
				stepOIDs[j] = oids[n-1]
			}
		}
		params, rd, err := describeStatement(ctx, c, step.SQL(), stepOIDs)
		if err != nil {
			return s.fail(ctx, err)
		}
		for j, n := range step.Params {
			for len(types) < n {
				types = append(types, 0)
			}
			if j < len(params) {
				types[n-1] = params[j]
			}
		}
		if i == seq.Returning && rd != nil {
			if portal {
				for k := range rd.Fields {
					rd.Fields[k].Format = formatOf(formats, k)
				}
			}
			shape = rd
		}
	}
	if !portal {
		for len(types) < len(oids) {
			types = append(types, oids[len(types)])
		}
		s.respond(&pgproto3.ParameterDescription{ParameterOIDs: types})
	}
	s.respond(shape)
	return nil
}

// stepHome is a cluster that holds a step's table.
func stepHome(p planner.Plan) string {
	switch p := p.(type) {
	case *planner.Route:
		return targetHome(p.Target)
	case *planner.Broadcast:
		return p.Clusters[0]
	case *planner.SplitInsert:
		return p.Table.Distribution.Clusters()[0]
	case *planner.FanOut:
		return targetHome(p.Target)
	}
	return ""
}

// describeStatement parses sql as c's unnamed statement and returns its
// parameter types and row shape (nil for none).
func describeStatement(ctx context.Context, c *conn, sql string, oids []uint32) ([]uint32, *pgproto3.RowDescription, error) {
	c.Send(&pgproto3.Parse{Query: sql, ParameterOIDs: oids})
	c.Send(&pgproto3.Describe{ObjectType: 'S'})
	c.Send(&pgproto3.Sync{})
	c.needSync = false
	c.unnamed = ""
	if err := c.Flush(ctx); err != nil {
		return nil, nil, err
	}
	var params []uint32
	var rd *pgproto3.RowDescription
	var firstErr error
	for {
		typ, body, err := c.Receive(ctx)
		if err != nil {
			return nil, nil, err
		}
		switch typ {
		case 't':
			var pd pgproto3.ParameterDescription
			if err := pd.Decode(body); err != nil {
				return nil, nil, err
			}
			params = append([]uint32(nil), pd.ParameterOIDs...)
		case 'T':
			rd = &pgproto3.RowDescription{}
			if err := rd.Decode(body); err != nil {
				return nil, nil, err
			}
			for i := range rd.Fields {
				rd.Fields[i].Name = append([]byte(nil), rd.Fields[i].Name...)
			}
		case 'E':
			if firstErr == nil {
				firstErr = serverError(body)
			}
		case 'S':
			c.statuses = append(c.statuses, append([]byte(nil), body...))
		case 'Z':
			return params, rd, firstErr
		}
	}
}

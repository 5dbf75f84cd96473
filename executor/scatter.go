package executor

import (
	"container/heap"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
)

// runScatter runs a Scatter: the worker query on every target cluster at
// once, the answers merged as they stream (concatenated, or k-way merged
// by the ORDER BY keys, which the workers return as hidden columns in
// binary), OFFSET and LIMIT applied to the merged stream. Memory holds one
// row per cluster. Sort keys whose order the router cannot reproduce
// exactly (text under a collation, for one) are merged by the coordinator
// instead.
func (s *Session) runScatter(ctx context.Context, sc *planner.Scatter, bound *boundParams, describe bool, hint string) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.pipe.failed {
		return nil
	}
	var params planner.Params
	var oids []uint32
	var results []int16
	if bound != nil {
		params, oids, results = bound.params, bound.oids, bound.results
	}
	clusters, err := sc.Target.Resolve(params)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	limit, offset, err := limits(sc, params)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	conns, err := s.prepareReaders(ctx, clusters, reading{readOnly: sc.ReadOnly, hint: hint})
	ship := bound.shipment()
	if err != nil {
		return s.stmtError(ctx, err)
	}
	values, formats, wOIDs := subsetParams(params, oids, sc.Params)
	shape := sc.Shape.Load()
	if shape == nil {
		fields, err := describeOn(ctx, conns[0], sc.Worker, wOIDs)
		if err != nil {
			return s.stmtError(ctx, err)
		}
		shape = &fields
		sc.Shape.Store(shape)
	}
	fields := *shape
	visible := len(fields) - sc.Hidden
	if visible < 0 {
		return s.stmtError(ctx, pgerror.New(pgerror.InternalError, "worker returned %d columns, fewer than its %d hidden ones", len(fields), sc.Hidden))
	}
	cmps := make([]comparator, len(sc.Sort))
	for i, key := range sc.Sort {
		cmp, ok := comparatorFor(fields[visible+i].DataTypeOID)
		if ok {
			cmps[i] = cmp
			continue
		}
		// The order depends on more than the bytes (a collation, say):
		// the coordinator sorts, with the key's collation when the router
		// can tell it, else the whole statement is finished there.
		if key.Column || key.Collate != "" {
			return s.scatterAtCoordinator(ctx, sc, conns, fields, visible, values, formats, wOIDs, results, limit, offset, describe, ship)
		}
		if f, ok := sc.Fallback.(*planner.Finish); ok {
			return s.runFinish(ctx, f, bound, describe, hint)
		}
		return s.stmtError(ctx, pgerror.Unsupported("ORDER BY on an expression of type oid %d over rows of several clusters is not supported", fields[visible+i].DataTypeOID))
	}
	rf := make([]int16, len(fields))
	for i := range rf {
		if i < visible {
			rf[i] = formatOf(results, i)
		} else {
			rf[i] = 1
		}
	}
	key := backend.StatementKey(sc.Worker, wOIDs)
	for i, c := range conns {
		s.touched(c.cluster)
		if c.unnamed != key {
			c.Send(&pgproto3.Parse{Query: sc.Worker, ParameterOIDs: wOIDs})
			c.unnamed = key
		}
		values, formats := ship.params(c.cluster, values, formats)
		c.SendBind("", "", formats, values, rf)
		if i == 0 {
			c.Send(&pgproto3.Describe{ObjectType: 'P'})
		}
		c.SendExecute("", 0)
		c.SendSync()
		c.needSync = false
		if err := c.Flush(ctx); err != nil {
			return s.stmtError(ctx, err)
		}
	}
	m := &merger{s: s, sc: sc, cmps: cmps, visible: visible, hidden: sc.Hidden}
	for _, c := range conns {
		m.streams = append(m.streams, &stream{c: c})
	}
	return m.run(ctx, fields, describe, limit, offset)
}

// formatOf is the result format a Bind asked for column i.
func formatOf(results []int16, i int) int16 {
	switch len(results) {
	case 0:
		return 0
	case 1:
		return results[0]
	}
	if i < len(results) {
		return results[i]
	}
	return 0
}

// limits evaluates LIMIT and OFFSET for one execution; limit -1 means
// none.
func limits(sc *planner.Scatter, p planner.Params) (limit, offset int64, err error) {
	limit, err = countValue(sc.Limit, p, -1)
	if err != nil {
		return 0, 0, err
	}
	if limit < -1 || (limit == -1 && sc.Limit != nil && sc.Limit.Param == 0) {
		return 0, 0, pgerror.New("2201W", "LIMIT must not be negative")
	}
	offset, err = countValue(sc.Offset, p, 0)
	if err != nil {
		return 0, 0, err
	}
	if offset < 0 {
		return 0, 0, pgerror.New("2201X", "OFFSET must not be negative")
	}
	return limit, offset, nil
}

// countValue reads a LIMIT or OFFSET; absent or NULL gives dflt.
func countValue(c *planner.Count, p planner.Params, dflt int64) (int64, error) {
	if c == nil {
		return dflt, nil
	}
	if c.Param == 0 {
		if c.Const < 0 && dflt == -1 {
			return -2, nil
		}
		return c.Const, nil
	}
	i := c.Param - 1
	if i >= len(p.Values) || p.Values[i] == nil {
		return dflt, nil
	}
	v := p.Values[i]
	if p.Format(i) == 1 {
		switch len(v) {
		case 8:
			return int64(binary.BigEndian.Uint64(v)), nil
		case 4:
			return int64(int32(binary.BigEndian.Uint32(v))), nil
		case 2:
			return int64(int16(binary.BigEndian.Uint16(v))), nil
		}
		return 0, pgerror.New(pgerror.InvalidParameterValue, "invalid binary value for LIMIT or OFFSET")
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
	if err != nil {
		return 0, pgerror.New(pgerror.InvalidTextRepresentation, "invalid input syntax for type bigint: \"%s\"", v)
	}
	if n < 0 && dflt == -1 {
		return -2, nil
	}
	return n, nil
}

// stream is one cluster's answer being read.
type stream struct {
	c *conn
	// row is the current DataRow body (valid until the next read), cut the
	// offset where its hidden columns start, keys the hidden values.
	row  []byte
	cut  int
	keys [][]byte
	done bool
	err  error
	desc *pgproto3.RowDescription
	idx  int
	// rows counts the DataRows read (rows moved to the router).
	rows int
}

// advance reads the stream's next row; done is set at its end.
func (st *stream) advance(ctx context.Context, visible int) error {
	for {
		typ, body, err := st.c.Receive(ctx)
		if err != nil {
			st.done = true
			return err
		}
		switch typ {
		case 'D':
			cut, keys, ok := splitRow(body, visible, st.keys[:0])
			if !ok {
				st.err = pgerror.New(pgerror.ProtocolViolation, "malformed DataRow from cluster %s", st.c.cluster)
				continue
			}
			st.row, st.cut, st.keys = body, cut, keys
			st.rows++
			return nil
		case 'T':
			var rd pgproto3.RowDescription
			if err := rd.Decode(body); err == nil {
				for i := range rd.Fields {
					rd.Fields[i].Name = slices.Clone(rd.Fields[i].Name)
				}
				st.desc = &rd
			}
		case 'E':
			if st.err == nil {
				st.err = serverError(body)
			}
		case 'S':
			st.c.statuses = append(st.c.statuses, append([]byte(nil), body...))
		case 'Z':
			st.done = true
			st.row = nil
			return nil
		}
	}
}

// splitRow finds where the hidden columns of a DataRow start and returns
// their values (nil for NULL).
func splitRow(body []byte, visible int, keys [][]byte) (int, [][]byte, bool) {
	if len(body) < 2 {
		return 0, nil, false
	}
	n := int(binary.BigEndian.Uint16(body))
	p, cut := 2, len(body)
	for i := range n {
		if i == visible {
			cut = p
		}
		if p+4 > len(body) {
			return 0, nil, false
		}
		l := int(int32(binary.BigEndian.Uint32(body[p:])))
		p += 4
		if i >= visible {
			if l < 0 {
				keys = append(keys, nil)
			} else {
				if p+l > len(body) {
					return 0, nil, false
				}
				keys = append(keys, body[p:p+l])
			}
		}
		if l > 0 {
			p += l
		}
	}
	return cut, keys, true
}

// merger merges the streams of a Scatter into the client's answer.
type merger struct {
	s       *Session
	sc      *planner.Scatter
	cmps    []comparator
	visible int
	hidden  int
	streams []*stream
	scratch []byte
	heap    []*stream
}

func (m *merger) run(ctx context.Context, shape []pgproto3.FieldDescription, describe bool, limit, offset int64) error {
	s := m.s
	var fatal error
	for i, st := range m.streams {
		st.idx = i
		if err := st.advance(ctx, m.visible); err != nil {
			fatal = err
		}
	}
	first := m.streams[0]
	if first.desc != nil {
		if !sameShape(first.desc.Fields, shape) {
			m.sc.Shape.Store(nil)
			m.drainAll(ctx)
			return s.stmtError(ctx, pgerror.Unsupported("the columns of the result changed since the statement was planned; run it again"))
		}
		if describe {
			rd := *first.desc
			rd.Fields = rd.Fields[:m.visible]
			s.client.Send(&rd)
		}
	}
	var sent, skipped int64
	emit := func(st *stream) {
		if skipped < offset {
			skipped++
			return
		}
		if limit >= 0 && sent >= limit {
			return
		}
		sent++
		if m.hidden == 0 {
			s.client.WriteRaw('D', st.row)
			return
		}
		m.scratch = binary.BigEndian.AppendUint16(m.scratch[:0], uint16(m.visible))
		m.scratch = append(m.scratch, st.row[2:st.cut]...)
		s.client.WriteRaw('D', m.scratch)
	}
	full := func() bool { return limit >= 0 && sent >= limit }
	if len(m.sc.Sort) == 0 {
		for _, st := range m.streams {
			for !st.done && fatal == nil && !full() {
				emit(st)
				fatal = firstNonNil(fatal, st.advance(ctx, m.visible))
			}
		}
	} else {
		for _, st := range m.streams {
			if !st.done {
				m.heap = append(m.heap, st)
			}
		}
		heap.Init(m)
		for len(m.heap) > 0 && fatal == nil && !full() {
			st := m.heap[0]
			emit(st)
			fatal = firstNonNil(fatal, st.advance(ctx, m.visible))
			if st.done {
				heap.Pop(m)
			} else {
				heap.Fix(m, 0)
			}
		}
	}
	if fatal == nil {
		fatal = m.drainAll(ctx)
	}
	for _, st := range m.streams {
		s.moved(st.c.cluster, st.rows)
	}
	if fatal != nil {
		return s.stmtError(ctx, fatal)
	}
	for _, st := range m.streams {
		if st.err != nil {
			s.sendError(st.err)
			s.statementFailed()
			return nil
		}
	}
	s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte(fmt.Sprintf("SELECT %d", sent))})
	return nil
}

// drainAll reads every stream to its end, so that the conns stay usable.
func (m *merger) drainAll(ctx context.Context) error {
	var fatal error
	for _, st := range m.streams {
		for !st.done {
			if err := st.advance(ctx, m.visible); err != nil {
				fatal = firstNonNil(fatal, err)
			}
		}
	}
	return fatal
}

// sameShape compares column types.
func sameShape(a, b []pgproto3.FieldDescription) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].DataTypeOID != b[i].DataTypeOID || a[i].TypeModifier != b[i].TypeModifier {
			return false
		}
	}
	return true
}

// heap.Interface over the streams' current rows, in ORDER BY order (ties
// by cluster order, for a stable merge).
func (m *merger) Len() int      { return len(m.heap) }
func (m *merger) Swap(i, j int) { m.heap[i], m.heap[j] = m.heap[j], m.heap[i] }
func (m *merger) Push(x any)    { m.heap = append(m.heap, x.(*stream)) }
func (m *merger) Pop() any {
	x := m.heap[len(m.heap)-1]
	m.heap = m.heap[:len(m.heap)-1]
	return x
}

func (m *merger) Less(i, j int) bool {
	a, b := m.heap[i], m.heap[j]
	for k, key := range m.sc.Sort {
		va, vb := a.keys[k], b.keys[k]
		var c int
		switch {
		case va == nil && vb == nil:
			c = 0
		case va == nil:
			c = 1
			if key.NullsFirst {
				c = -1
			}
		case vb == nil:
			c = -1
			if key.NullsFirst {
				c = 1
			}
		default:
			c = m.cmps[k](va, vb)
			if key.Desc {
				c = -c
			}
		}
		if c != 0 {
			return c < 0
		}
	}
	return a.idx < b.idx
}

// scatterAtCoordinator merges the workers' rows at the coordinator when
// some sort key's order needs PostgreSQL (a collation): the rows are
// loaded into a temporary table, sorted and cut there.
func (s *Session) scatterAtCoordinator(ctx context.Context, sc *planner.Scatter, conns []*conn, fields []pgproto3.FieldDescription, visible int,
	values [][]byte, formats []int16, wOIDs []uint32, results []int16, limit, offset int64, describe bool, ship *shipment) error {
	tx, err := s.openCoordinator(ctx)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	cc := tx.cc
	defer tx.close(ctx)
	types, err := s.columnTypes(ctx, conns[0], fields)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	binaryRows := true
	var ddl strings.Builder
	ddl.WriteString("CREATE TEMP TABLE _sqlrouter_merge (")
	for i, f := range fields {
		binaryRows = binaryRows && f.DataTypeOID < firstNormalOID
		if i > 0 {
			ddl.WriteString(", ")
		}
		fmt.Fprintf(&ddl, "c%d %s", i+1, types[i])
	}
	ddl.WriteString(") ON COMMIT DROP")
	if err := cc.Exec(ctx, ddl.String()); err != nil {
		return s.stmtError(ctx, err)
	}
	format, rf := "text", int16(0)
	if binaryRows {
		format, rf = "binary", 1
	}
	if err := startCopyIn(ctx, cc, "COPY _sqlrouter_merge FROM STDIN (FORMAT "+format+")"); err != nil {
		return s.stmtError(ctx, err)
	}
	key := backend.StatementKey(sc.Worker, wOIDs)
	for _, c := range conns {
		s.touched(c.cluster)
		if c.unnamed != key {
			c.Send(&pgproto3.Parse{Query: sc.Worker, ParameterOIDs: wOIDs})
			c.unnamed = key
		}
		values, formats := ship.params(c.cluster, values, formats)
		c.SendBind("", "", formats, values, []int16{rf})
		c.SendExecute("", 0)
		c.SendSync()
		c.needSync = false
		if err := c.Flush(ctx); err != nil {
			return s.stmtError(ctx, err)
		}
	}
	w := &copyWriter{cc: cc, binary: binaryRows}
	var firstErr error
	for _, c := range conns {
		st := &stream{c: c}
		for {
			if err := st.advance(ctx, visible); err != nil {
				return s.stmtError(ctx, err)
			}
			if st.done {
				break
			}
			if firstErr == nil {
				if err := w.row(ctx, st.row); err != nil {
					return s.stmtError(ctx, err)
				}
			}
		}
		s.moved(c.cluster, st.rows)
		firstErr = firstNonNil(firstErr, st.err)
	}
	if firstErr != nil {
		cc.Send(&pgproto3.CopyFail{Message: "a cluster failed"})
		cc.Flush(ctx)
		readToReady(ctx, cc)
		return s.stmtError(ctx, firstErr)
	}
	s.countShipped(int64(w.rows))
	if err := w.finish(ctx); err != nil {
		return s.stmtError(ctx, err)
	}
	var q strings.Builder
	q.WriteString("SELECT ")
	for i := range visible {
		if i > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "c%d AS %s", i+1, quoteIdent(string(fields[i].Name)))
	}
	q.WriteString(" FROM _sqlrouter_merge")
	for k, key := range sc.Sort {
		if k == 0 {
			q.WriteString(" ORDER BY ")
		} else {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "c%d", visible+k+1)
		if key.Collate != "" {
			// A plain column's collation is in the table's definition.
			q.WriteString(" COLLATE " + key.Collate)
		}
		if key.Desc {
			q.WriteString(" DESC")
		}
		if key.NullsFirst {
			q.WriteString(" NULLS FIRST")
		} else {
			q.WriteString(" NULLS LAST")
		}
	}
	if limit >= 0 {
		fmt.Fprintf(&q, " LIMIT %d", limit)
	}
	if offset > 0 {
		fmt.Fprintf(&q, " OFFSET %d", offset)
	}
	failed, err := s.finalQuery(ctx, cc, q.String(), planner.Params{}, nil, results, describe)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	if failed {
		s.statementFailed()
		return nil
	}
	if err := tx.commit(ctx); err != nil {
		return s.stmtError(ctx, err)
	}
	return nil
}

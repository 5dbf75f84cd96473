package executor

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
)

// coordinatorName is the coordinator's name in logs and connection limits.
const coordinatorName = "coordinator"

// coordinator returns the session's backend session on the coordinator,
// with the client's settings.
func (s *Session) coordinator(ctx context.Context) (*conn, error) {
	url := s.snap.Map.Coordinator
	if url == "" {
		return nil, pgerror.Unsupported("this statement needs rows from several clusters, which needs a coordinator in the shard map")
	}
	if s.coord != nil && (s.coord.Broken() || s.coord.url != url) {
		s.coord.Close()
		s.coord = nil
		s.publishConns()
	}
	if s.coord == nil {
		c, err := s.lease(ctx, coordinatorName, url)
		if err != nil {
			return nil, err
		}
		s.coord = c
		s.publishConns()
	}
	if want := s.settings.text; s.coord.Applied != want {
		sql := want
		if sql == "" {
			sql = "RESET ALL"
		}
		if err := s.coord.Exec(ctx, sql); err != nil {
			return nil, err
		}
		s.coord.Applied = want
	}
	return s.coord, nil
}

// beginCoordinator opens the coordinator's transaction for one statement,
// with the settings the client changed in its own transaction: the
// temporary tables of the statement vanish at its end.
func (s *Session) beginCoordinator(ctx context.Context, cc *conn) error {
	var b strings.Builder
	b.WriteString("BEGIN")
	for _, p := range s.settings.pending {
		b.WriteString("; ")
		b.WriteString(p.sql)
	}
	return cc.Exec(ctx, b.String())
}

// coordinatorTxn is the coordinator's transaction for one statement.
type coordinatorTxn struct {
	cc   *conn
	done bool
}

// openCoordinator opens the coordinator's transaction for one statement;
// the caller defers close, which rolls it back unless commit ran.
func (s *Session) openCoordinator(ctx context.Context) (*coordinatorTxn, error) {
	cc, err := s.coordinator(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.beginCoordinator(ctx, cc); err != nil {
		return nil, err
	}
	return &coordinatorTxn{cc: cc}, nil
}

func (t *coordinatorTxn) commit(ctx context.Context) error {
	t.done = true
	return t.cc.Exec(ctx, "COMMIT")
}

func (t *coordinatorTxn) close(ctx context.Context) {
	if !t.done && !t.cc.Broken() {
		t.cc.Exec(ctx, "ROLLBACK")
	}
}

// reading says how the reads of a statement that spans clusters run: on
// replicas when they may, inside the client's transaction when it has one.
type reading struct {
	readOnly bool
	hint     string
	// ship, when set, adds the rows a join ships to each cluster's
	// parameters.
	ship *shipment
}

// prepareReaders readies the conns of the clusters a statement reads: a
// replica or the primary of each (see readConn), with the client's
// settings, joined to the client's transaction when it has one (or, in an
// implicit transaction that may write, turned into one).
func (s *Session) prepareReaders(ctx context.Context, clusters []string, rd reading) ([]*conn, error) {
	replicaOK := s.mayReadReplica(rd.readOnly)
	joined := s.state != txIdle || (!replicaOK && (s.coordinated || len(s.participants) > 0))
	if joined && !replicaOK {
		if err := s.coordinate(ctx); err != nil {
			return nil, err
		}
	}
	conns := make([]*conn, len(clusters))
	for i, cl := range clusters {
		var c *conn
		var err error
		if replicaOK {
			c, err = s.readConn(ctx, cl, true, rd.hint)
		} else {
			c, err = s.conn(ctx, cl)
			if err == nil {
				if !c.participant {
					s.syncSettings(c)
				}
				s.routed(c)
			}
		}
		if err != nil {
			return nil, err
		}
		if joined {
			if err := s.enter(ctx, c); err != nil {
				return nil, err
			}
			if !rd.readOnly {
				c.markWrote()
			}
		}
		conns[i] = c
	}
	if err := s.drain(ctx); err != nil {
		return nil, err
	}
	if s.pipe.failed {
		return nil, errSkipped
	}
	return conns, nil
}

// runFinish runs a Finish plan: every gather is loaded into a temporary
// table of the coordinator, then the coordinator runs the final query and
// its answer goes to the client. describe asks for the RowDescription
// (simple protocol).
func (s *Session) runFinish(ctx context.Context, f *planner.Finish, bound *boundParams, describe bool, hint string) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.pipe.failed {
		return nil
	}
	params, oids := bound.values()
	tx, err := s.openCoordinator(ctx)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	cc := tx.cc
	defer func() {
		tx.close(ctx)
		s.collectStatuses(nil)
	}()
	for _, g := range f.Gathers {
		if err := s.gather(ctx, cc, g, params, oids, reading{readOnly: true, hint: hint}); err != nil {
			return s.stmtError(ctx, err)
		}
	}
	failed, err := s.finalQuery(ctx, cc, f.Final, params, oids, bound.resultFormats(), describe)
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

// gather loads the rows of one gather into a temporary table of the
// coordinator. Rows stream from the clusters to the coordinator's COPY:
// memory stays bounded.
func (s *Session) gather(ctx context.Context, cc *conn, g *planner.Gather, params planner.Params, oids []uint32, rd reading) error {
	_, _, err := s.load(ctx, cc, g.Name, false, g.SQL, g.Params, g.Target, params, oids, rd)
	return err
}

// load runs sql (the statement's parameters picked by nums) on the
// target's clusters and loads the rows into a temporary table of the
// coordinator, named after the result's columns or, when positional, c1,
// c2, ... It returns the result's columns and their SQL types.
func (s *Session) load(ctx context.Context, cc *conn, table string, positional bool, sql string, nums []int, target planner.Target,
	params planner.Params, oids []uint32, rd reading) ([]pgproto3.FieldDescription, []string, error) {
	clusters, err := target.Resolve(params)
	if err != nil {
		return nil, nil, err
	}
	values, formats, gOIDs := subsetParams(params, oids, nums)
	conns, err := s.prepareReaders(ctx, clusters, rd)
	if err != nil {
		return nil, nil, err
	}
	fields, types, err := s.describeTyped(ctx, conns[0], sql, gOIDs)
	if err != nil {
		return nil, nil, err
	}
	binaryRows := true
	for _, f := range fields {
		// Binary values of user-defined types (arrays and rows of them
		// name the type by OID) may not read back elsewhere.
		binaryRows = binaryRows && f.DataTypeOID < firstNormalOID
	}
	var ddl strings.Builder
	ddl.WriteString("CREATE TEMP TABLE " + quoteIdent(table) + " (")
	for i, f := range fields {
		if i > 0 {
			ddl.WriteString(", ")
		}
		name := quoteIdent(string(f.Name))
		if positional {
			name = fmt.Sprintf("c%d", i+1)
		}
		ddl.WriteString(name + " " + types[i])
	}
	ddl.WriteString(") ON COMMIT DROP")
	if err := cc.Exec(ctx, ddl.String()); err != nil {
		return nil, nil, err
	}
	format := "text"
	resultFormat := int16(0)
	if binaryRows {
		format, resultFormat = "binary", 1
	}
	if err := startCopyIn(ctx, cc, "COPY "+quoteIdent(table)+" FROM STDIN (FORMAT "+format+")"); err != nil {
		return nil, nil, err
	}
	key := backend.StatementKey(sql, gOIDs)
	for _, c := range conns {
		s.touched(c.cluster)
		if c.unnamed != key {
			c.Send(&pgproto3.Parse{Query: sql, ParameterOIDs: gOIDs})
			c.unnamed = key
		}
		values, formats := rd.ship.params(c.cluster, values, formats)
		c.SendBind("", "", formats, values, []int16{resultFormat})
		c.SendExecute("", 0)
		c.SendSync()
		c.needSync = false
		if err := c.Flush(ctx); err != nil {
			return nil, nil, err
		}
	}
	w := &copyWriter{cc: cc, binary: binaryRows}
	var firstErr error
	for _, c := range conns {
		before := w.rows
		if err := readGatherRows(ctx, c, w, &firstErr); err != nil {
			return nil, nil, err
		}
		s.moved(c.cluster, w.rows-before)
	}
	if firstErr != nil {
		cc.Send(&pgproto3.CopyFail{Message: "a cluster failed"})
		cc.Flush(ctx)
		readToReady(ctx, cc)
		return nil, nil, firstErr
	}
	s.countShipped(int64(w.rows))
	return fields, types, w.finish(ctx)
}

// subsetParams picks the parameters a rewritten query uses.
func subsetParams(p planner.Params, oids []uint32, nums []int) ([][]byte, []int16, []uint32) {
	if len(nums) == 0 {
		return nil, nil, nil
	}
	b := &boundParams{params: p, oids: oids}
	sub, subOIDs := b.subset(nums)
	return sub.Values, sub.Formats, subOIDs
}

// decodeFields decodes a RowDescription, its names copied out of the
// read buffer.
func decodeFields(body []byte) ([]pgproto3.FieldDescription, error) {
	var rd pgproto3.RowDescription
	if err := rd.Decode(body); err != nil {
		return nil, err
	}
	for i := range rd.Fields {
		rd.Fields[i].Name = slices.Clone(rd.Fields[i].Name)
	}
	return rd.Fields, nil
}

// describeOn parses sql as the unnamed statement of c and returns the
// shape of its rows.
func describeOn(ctx context.Context, c *conn, sql string, oids []uint32) ([]pgproto3.FieldDescription, error) {
	c.Send(&pgproto3.Parse{Query: sql, ParameterOIDs: oids})
	c.Send(&pgproto3.Describe{ObjectType: 'S'})
	c.SendSync()
	c.needSync = false
	c.unnamed = backend.StatementKey(sql, oids)
	if err := c.Flush(ctx); err != nil {
		return nil, err
	}
	var fields []pgproto3.FieldDescription
	var firstErr error
	for {
		typ, body, err := c.Receive(ctx)
		if err != nil {
			return nil, err
		}
		switch typ {
		case 'T':
			if fields, err = decodeFields(body); err != nil {
				return nil, err
			}
		case 'E':
			if firstErr == nil {
				firstErr = serverError(body)
			}
			c.unnamed = ""
		case 'S':
			c.statuses = append(c.statuses, append([]byte(nil), body...))
		case 'Z':
			return fields, firstErr
		}
	}
}

// startCopyIn sends a COPY FROM STDIN and waits for the server to accept
// data.
func startCopyIn(ctx context.Context, c *conn, sql string) error {
	c.SendQuery(sql)
	c.unnamed = ""
	if err := c.Flush(ctx); err != nil {
		return err
	}
	var firstErr error
	for {
		typ, body, err := c.Receive(ctx)
		if err != nil {
			return err
		}
		switch typ {
		case 'G':
			return nil
		case 'E':
			firstErr = serverError(body)
		case 'Z':
			if firstErr == nil {
				firstErr = pgerror.New(pgerror.InternalError, "the coordinator did not start COPY")
			}
			return firstErr
		}
	}
}

// readToReady reads and drops messages until ReadyForQuery.
func readToReady(ctx context.Context, c *conn) error {
	for {
		typ, _, err := c.Receive(ctx)
		if err != nil {
			return err
		}
		if typ == 'Z' {
			return nil
		}
	}
}

// readGatherRows reads one cluster's answer to a gather and copies its rows
// on; a server error is kept in firstErr (the answer is still read to its
// end, so the conn stays usable).
func readGatherRows(ctx context.Context, c *conn, w *copyWriter, firstErr *error) error {
	for {
		typ, body, err := c.Receive(ctx)
		if err != nil {
			return err
		}
		switch typ {
		case 'D':
			if *firstErr == nil {
				if err := w.row(ctx, body); err != nil {
					return err
				}
			}
		case 'E':
			if *firstErr == nil {
				*firstErr = serverError(body)
			}
		case 'S':
			c.statuses = append(c.statuses, append([]byte(nil), body...))
		case 'Z':
			return nil
		}
	}
}

// copyWriter turns DataRows into COPY data for the coordinator. A DataRow's
// body (field count, then each field's length and bytes) is exactly a
// tuple of binary COPY; text rows are escaped into COPY's text format.
type copyWriter struct {
	cc      *conn
	binary  bool
	buf     []byte
	started bool
	// rows counts the rows written.
	rows int
}

var copyBinaryHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

func (w *copyWriter) row(ctx context.Context, body []byte) error {
	w.rows++
	if w.binary {
		w.header()
		w.buf = append(w.buf, body...)
	} else if err := w.textRow(body); err != nil {
		return err
	}
	if len(w.buf) >= 64<<10 {
		return w.flush(ctx)
	}
	return nil
}

func (w *copyWriter) textRow(body []byte) error {
	if len(body) < 2 {
		return pgerror.New(pgerror.ProtocolViolation, "malformed DataRow")
	}
	n := int(binary.BigEndian.Uint16(body))
	p := 2
	for i := range n {
		if i > 0 {
			w.buf = append(w.buf, '\t')
		}
		if p+4 > len(body) {
			return pgerror.New(pgerror.ProtocolViolation, "malformed DataRow")
		}
		l := int(int32(binary.BigEndian.Uint32(body[p:])))
		p += 4
		if l < 0 {
			w.buf = append(w.buf, '\\', 'N')
			continue
		}
		if p+l > len(body) {
			return pgerror.New(pgerror.ProtocolViolation, "malformed DataRow")
		}
		for _, ch := range body[p : p+l] {
			switch ch {
			case '\\':
				w.buf = append(w.buf, '\\', '\\')
			case '\n':
				w.buf = append(w.buf, '\\', 'n')
			case '\r':
				w.buf = append(w.buf, '\\', 'r')
			case '\t':
				w.buf = append(w.buf, '\\', 't')
			default:
				w.buf = append(w.buf, ch)
			}
		}
		p += l
	}
	w.buf = append(w.buf, '\n')
	return nil
}

func (w *copyWriter) flush(ctx context.Context) error {
	if len(w.buf) == 0 {
		return nil
	}
	w.cc.SendRaw('d', w.buf)
	w.buf = w.buf[:0]
	return w.cc.Flush(ctx)
}

// header starts binary COPY data (also when no row follows).
func (w *copyWriter) header() {
	if !w.started {
		w.buf = append(w.buf, copyBinaryHeader...)
		w.started = true
	}
}

// finish ends the COPY and waits for the coordinator to take the rows.
func (w *copyWriter) finish(ctx context.Context) error {
	if w.binary {
		w.header()
		w.buf = append(w.buf, 0xff, 0xff)
	}
	if err := w.flush(ctx); err != nil {
		return err
	}
	w.cc.Send(&pgproto3.CopyDone{})
	if err := w.cc.Flush(ctx); err != nil {
		return err
	}
	var firstErr error
	for {
		typ, body, err := w.cc.Receive(ctx)
		if err != nil {
			return err
		}
		switch typ {
		case 'E':
			firstErr = serverError(body)
		case 'Z':
			return firstErr
		}
	}
}

// finalQuery runs the final query at the coordinator and relays its answer.
// failed reports an error the client has already been sent.
func (s *Session) finalQuery(ctx context.Context, cc *conn, sql string, params planner.Params, oids []uint32, resultFormats []int16, describe bool) (failed bool, err error) {
	cc.Send(&pgproto3.Parse{Query: sql, ParameterOIDs: oids})
	cc.SendBind("", "", params.Formats, params.Values, resultFormats)
	if describe {
		cc.Send(&pgproto3.Describe{ObjectType: 'P'})
	}
	cc.SendExecute("", 0)
	cc.SendSync()
	cc.unnamed = ""
	if err := cc.Flush(ctx); err != nil {
		return false, err
	}
	for {
		typ, body, err := cc.Receive(ctx)
		if err != nil {
			return false, err
		}
		switch typ {
		case 'T', 'D', 'C', 'I', 'N':
			s.client.WriteRaw(typ, body)
		case 'E':
			failed = true
			s.relayWithoutPosition(body)
		case 'S':
			cc.statuses = append(cc.statuses, append([]byte(nil), body...))
		case 'Z':
			return failed, nil
		}
	}
}

// relayWithoutPosition relays an error about a rewritten query: its
// position would point into text the client never wrote.
func (s *Session) relayWithoutPosition(body []byte) {
	var msg pgproto3.ErrorResponse
	if err := msg.Decode(body); err != nil || (msg.Position == 0 && msg.InternalQuery == "") {
		s.client.WriteRaw('E', body)
		return
	}
	msg.Position = 0
	s.client.Send(&msg)
}

// describeFinish answers Describe for a Finish statement or portal: the
// coordinator gets empty temporary tables shaped like the gathers' rows
// and describes the final query over them. For a portal, formats are the
// Bind's result formats and no ParameterDescription is sent.
func (s *Session) describeFinish(ctx context.Context, f *planner.Finish, oids []uint32, portal bool, formats []int16) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.pipe.failed {
		return nil
	}
	cc, err := s.coordinator(ctx)
	if err != nil {
		return s.fail(ctx, err)
	}
	if err := cc.Exec(ctx, "BEGIN"); err != nil {
		return s.fail(ctx, err)
	}
	defer cc.Exec(ctx, "ROLLBACK")
	for _, g := range f.Gathers {
		clusters, err := g.Target.Resolve(planner.Params{})
		if err != nil || len(clusters) == 0 {
			return s.fail(ctx, firstNonNil(err, pgerror.New(pgerror.InternalError, "no cluster to describe %s", g.Source)))
		}
		conns, err := s.prepareReaders(ctx, clusters[:1], reading{readOnly: true})
		if err != nil {
			if err == errSkipped {
				return nil
			}
			return s.fail(ctx, err)
		}
		gOIDs := make([]uint32, len(g.Params))
		for i, n := range g.Params {
			if n-1 < len(oids) {
				gOIDs[i] = oids[n-1]
			}
		}
		fields, types, err := s.describeTyped(ctx, conns[0], g.SQL, gOIDs)
		if err != nil {
			return s.fail(ctx, err)
		}
		var ddl strings.Builder
		ddl.WriteString("CREATE TEMP TABLE " + quoteIdent(g.Name) + " (")
		for i, fd := range fields {
			if i > 0 {
				ddl.WriteString(", ")
			}
			ddl.WriteString(quoteIdent(string(fd.Name)) + " " + types[i])
		}
		ddl.WriteString(") ON COMMIT DROP")
		if err := cc.Exec(ctx, ddl.String()); err != nil {
			return s.fail(ctx, err)
		}
	}
	cc.Send(&pgproto3.Parse{Query: f.Final, ParameterOIDs: oids})
	cc.Send(&pgproto3.Describe{ObjectType: 'S'})
	cc.SendSync()
	cc.unnamed = ""
	if err := cc.Flush(ctx); err != nil {
		return err
	}
	shape := &portalShape{s: s, formats: formats}
	var failed error
	for {
		typ, body, err := cc.Receive(ctx)
		if err != nil {
			return err
		}
		switch typ {
		case 't':
			if !portal {
				s.client.WriteRaw(typ, body)
			}
		case 'T':
			if portal {
				shape.message(typ, body)
			} else {
				s.client.WriteRaw(typ, body)
			}
		case 'n':
			s.client.WriteRaw(typ, body)
		case 'E':
			if failed == nil {
				failed = serverError(body)
			}
		case 'Z':
			if failed != nil {
				return s.fail(ctx, failed)
			}
			return nil
		}
	}
}

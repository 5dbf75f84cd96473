package executor

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// copyTarget is one cluster's COPY FROM STDIN of a CopyIn.
type copyTarget struct {
	cluster string
	c       *conn
	buf     []byte
	lines   lineMap
	// sawLine is set once the cluster got a line: its line ending is
	// then fixed, which changes how it counts breaks inside csv quotes.
	sawLine bool
	tag     string
	err     *pgproto3.ErrorResponse
	// openLine is the client line whose row opened the target, for an
	// error that the COPY statement itself got there.
	openLine int64
}

// copyIn runs one CopyIn.
type copyIn struct {
	s       *Session
	p       *planner.CopyIn
	targets map[string]*copyTarget
	order   []*copyTarget
	home    *copyTarget
	sp      splitter
	binary  bool
	keyType shardmap.KeyType
	columns []string
	keyCol  int
	// header is the header line (text, csv) or file header (binary) every
	// cluster gets first; headerLines is how many lines it counts.
	header      []byte
	headerLines int64
	// ended is set once the end of the data was seen (\. or the binary
	// trailer); what follows is ignored (text) or rejected (binary).
	ended bool
	// routerErr is an error the router found in the data itself.
	routerErr *copyError
	// suspect is set when a row the router could not read went to the home
	// cluster so that PostgreSQL says what is wrong with it; should the
	// home cluster accept it, this is the statement's error.
	suspect *copyError
	// batches emulates one server's batches of buffered rows: the client
	// lines after which one server would have inserted its buffered rows,
	// when uniqueness is checked (see deferredError).
	batches               []int64
	batchRows, batchBytes int
	// fatal is an error that is not about the data (a lost connection).
	fatal error
	// sent is set when an error already reached the client.
	sent bool
}

// runCopyIn runs COPY ... FROM STDIN into a table of the shard map: the
// home cluster's COPY answers the client (or refuses the statement), rows
// are cut and sent to their clusters as they arrive, each cluster's COPY
// opened with the first row it gets, all inside the client's transaction.
func (s *Session) runCopyIn(ctx context.Context, p *planner.CopyIn) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.pipe.failed {
		return nil
	}
	if err := s.coordinate(ctx); err != nil {
		return s.stmtError(ctx, err)
	}
	r := &copyIn{s: s, p: p, targets: map[string]*copyTarget{}, binary: p.Options.Format == planner.CopyBinary}
	first := []string{p.Home}
	if p.Table.Reference {
		for _, cl := range p.Clusters {
			if cl != p.Home {
				first = append(first, cl)
			}
		}
	}
	conns := make([]*conn, len(first))
	for i, cl := range first {
		c, err := r.join(ctx, cl)
		if err != nil {
			return s.stmtError(ctx, err)
		}
		if c == nil {
			s.statementFailed() // the transaction's BEGIN failed there; its error was sent
			return nil
		}
		conns[i] = c
	}
	if !p.Table.Reference {
		if err := r.readColumns(ctx, conns[0]); err != nil {
			return s.stmtError(ctx, err)
		}
	}
	var gBody []byte
	var openErr *pgproto3.ErrorResponse
	for i, cl := range first {
		t := &copyTarget{cluster: cl, c: conns[i]}
		g, resp, err := r.startCopy(ctx, t)
		if err != nil {
			r.fatal = err
			break
		}
		if resp != nil {
			openErr = resp
			break
		}
		if i == 0 {
			gBody = g
			r.home = t
		}
		r.add(t)
	}
	if r.fatal != nil || openErr != nil || p.Unusable != "" {
		r.finish(ctx, "COPY could not start on every cluster")
		switch {
		case r.fatal != nil:
			return s.stmtError(ctx, r.fatal)
		case openErr != nil:
			s.client.Send(openErr)
			s.statementFailed()
			return nil
		}
		return s.stmtError(ctx, pgerror.Unsupported("COPY into table %s of the shard map with %s is not supported", p.Table.Name, p.Unusable))
	}
	if !p.Table.Reference {
		if r.binary {
			r.sp = newBinarySplitter(r.keyCol, len(r.columns))
		} else {
			r.sp = newTextSplitter(p.Options, r.keyCol, len(r.columns), p.Table.Key)
		}
	}
	s.client.WriteRaw('G', gBody)
	if err := s.client.Flush(); err != nil {
		r.finish(ctx, "client connection lost during COPY")
		return err
	}
	return r.stream(ctx)
}

// join readies the conn of a cluster and makes it part of the
// transaction. A nil conn means its BEGIN failed (the error was sent).
func (r *copyIn) join(ctx context.Context, cluster string) (*conn, error) {
	s := r.s
	c, err := s.conn(ctx, cluster)
	if err != nil {
		return nil, err
	}
	if !c.participant {
		s.syncSettings(c)
	}
	if err := s.enter(ctx, c); err != nil {
		return nil, err
	}
	c.markWrote() // a writer: it commits with the others, atomically
	s.routed(c)
	if err := s.drain(ctx); err != nil {
		return nil, err
	}
	if s.pipe.failed || c.TxStatus() != 'T' {
		r.sent = true
		return nil, nil
	}
	return c, nil
}

// readColumns finds the columns of the COPY and the key among them: the
// column list, or else the table's columns in order (generated columns
// excepted, as COPY does), which the home cluster tells.
func (r *copyIn) readColumns(ctx context.Context, home *conn) error {
	r.columns = r.p.Columns
	if r.columns == nil {
		t := r.p.Table
		name := quoteIdent(t.Schema) + "." + quoteIdent(t.Name)
		rows, err := home.queryParams(ctx, "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = $1::pg_catalog.regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
			nil, [][]byte{[]byte(name)}, nil)
		if err != nil {
			return err
		}
		for _, row := range rows {
			r.columns = append(r.columns, row[0])
		}
	}
	r.keyCol = r.p.KeyIndex(r.columns)
	if r.keyCol < 0 {
		return pgerror.Unsupported("COPY into distributed table %s must include distribution key column %s", r.p.Table.Name, r.p.Table.Key)
	}
	r.keyType = r.p.Table.Distribution.KeyType
	return nil
}

// startCopy sends the statement to a target's cluster and waits until the
// server accepts data. It returns the CopyInResponse body, or the
// server's error.
func (r *copyIn) startCopy(ctx context.Context, t *copyTarget) ([]byte, *pgproto3.ErrorResponse, error) {
	c := t.c
	r.s.touched(t.cluster)
	c.SendQuery(r.p.SQL)
	c.unnamed = ""
	if err := c.Flush(ctx); err != nil {
		return nil, nil, r.lost(t, err)
	}
	var resp *pgproto3.ErrorResponse
	for {
		typ, body, err := c.Receive(ctx)
		if err != nil {
			return nil, nil, r.lost(t, err)
		}
		switch typ {
		case 'G':
			return append([]byte(nil), body...), nil, nil
		case 'E':
			resp = decodeError(body)
		case 'N':
			if t == r.home || r.home == nil {
				r.s.client.WriteRaw(typ, body)
			}
		case 'S':
			c.statuses = append(c.statuses, append([]byte(nil), body...))
		case 'Z':
			if resp == nil {
				resp = pgerror.Response(pgerror.New(pgerror.ProtocolViolation, "cluster %s did not start COPY", t.cluster))
			}
			return nil, resp, nil
		}
	}
}

func decodeError(body []byte) *pgproto3.ErrorResponse {
	var msg pgproto3.ErrorResponse
	if err := msg.Decode(body); err != nil {
		return pgerror.Response(pgerror.New(pgerror.ProtocolViolation, "malformed error from server: %v", err))
	}
	return &msg
}

// lost marks a target's connection as gone.
func (r *copyIn) lost(t *copyTarget, err error) error {
	r.s.backendLost(t.c, err)
	return pgerror.New(pgerror.ConnectionFailure, "lost connection to cluster %s during COPY: %v", t.cluster, err)
}

// add registers an open target, giving it the header first.
func (r *copyIn) add(t *copyTarget) {
	r.targets[t.cluster] = t
	r.order = append(r.order, t)
	if r.header != nil {
		t.buf = append(t.buf, r.header...)
		t.lines.setHeader(r.headerLines)
		t.sawLine = !r.binary
	}
}

// stream reads the client's data to its end and ends every cluster's
// COPY.
func (r *copyIn) stream(ctx context.Context) error {
	s := r.s
	for {
		msg, err := s.client.ReceiveCopy()
		if err != nil {
			r.finish(ctx, "client connection lost during COPY")
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if r.p.Table.Reference {
				r.broadcast(ctx, m.Data)
			} else if !r.ended || r.binary {
				// Binary data after the trailer is an error PostgreSQL
				// reports; text after \. is ignored.
				r.sp.feed(m.Data)
				r.cut(ctx, false)
			}
			if r.stopped() {
				// The statement failed: end now, as PostgreSQL does; the
				// rest of the client's data is ignored.
				return r.end(ctx, "")
			}
		case *pgproto3.CopyDone:
			if !r.p.Table.Reference && (!r.ended || r.binary) {
				r.cut(ctx, true)
			}
			return r.end(ctx, "")
		case *pgproto3.CopyFail:
			return r.end(ctx, m.Message)
		}
	}
}

// stopped reports a failure that ends the COPY.
func (r *copyIn) stopped() bool {
	return r.routerErr != nil || r.suspect != nil || r.fatal != nil || r.sent || r.openFailed()
}

func (r *copyIn) openFailed() bool {
	for _, t := range r.order {
		if t.err != nil {
			return true
		}
	}
	return false
}

// broadcast sends a reference table's data to every cluster.
func (r *copyIn) broadcast(ctx context.Context, data []byte) {
	for _, t := range r.order {
		t.buf = append(t.buf, data...)
		if len(t.buf) >= copyMessageMax {
			r.send(ctx, t, false)
		}
	}
}

// finish ends every open COPY (with CopyDone, or CopyFail when fail is
// set) and reads each cluster's answer.
func (r *copyIn) finish(ctx context.Context, fail string) {
	for _, t := range r.order {
		if t.err != nil || t.c.Broken() {
			continue
		}
		if fail == "" {
			if r.binary && r.header != nil && !r.stopped() {
				t.buf = append(t.buf, 0xff, 0xff) // the trailer
			}
			r.send(ctx, t, true)
			t.c.Send(&pgproto3.CopyDone{})
		} else {
			t.buf = t.buf[:0]
			t.c.Send(&pgproto3.CopyFail{Message: fail})
		}
		if err := t.c.Flush(ctx); err != nil && r.fatal == nil {
			r.fatal = r.lost(t, err)
		}
	}
	for _, t := range r.order {
		if t.err != nil || t.c.Broken() {
			continue
		}
		if err := r.collect(ctx, t); err != nil && r.fatal == nil {
			r.fatal = err
		}
	}
}

// collect reads a cluster's answer to the end of its COPY.
func (r *copyIn) collect(ctx context.Context, t *copyTarget) error {
	for {
		typ, body, err := t.c.Receive(ctx)
		if err != nil {
			return r.lost(t, err)
		}
		switch typ {
		case 'C':
			t.tag = string(trimNul(body))
		case 'E':
			if t.err == nil {
				t.err = decodeError(body)
				translateLine(t.err, &t.lines)
			}
		case 'N':
			if !r.p.Table.Reference || t == r.home {
				r.s.client.WriteRaw(typ, body)
			}
		case 'S':
			t.c.statuses = append(t.c.statuses, append([]byte(nil), body...))
		case 'Z':
			return nil
		}
	}
}

// end finishes the statement: every cluster's COPY ends, and the client
// gets COPY n, or the error PostgreSQL would have given first.
func (r *copyIn) end(ctx context.Context, fail string) error {
	s := r.s
	r.finish(ctx, fail)
	if r.sent {
		s.statementFailed()
		return nil
	}
	if r.fatal != nil {
		return s.stmtError(ctx, r.fatal)
	}
	if resp := r.firstError(); resp != nil {
		s.client.Send(resp)
		s.statementFailed()
		return nil
	}
	var total int64
	for _, t := range r.order {
		if f := strings.Fields(t.tag); len(f) == 2 && f[0] == "COPY" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			total += n
		}
		if r.p.Table.Reference {
			break // every copy got the same rows
		}
	}
	s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte("COPY " + strconv.FormatInt(total, 10))})
	return nil
}

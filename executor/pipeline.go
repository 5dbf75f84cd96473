package executor

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// expect is the response an entry waits for.
type expect int

const (
	expLocal          expect = iota // a message the router made
	expParse                        // ParseComplete
	expBind                         // BindComplete
	expClose                        // CloseComplete
	expDescribeStmt                 // ParameterDescription, then RowDescription or NoData
	expDescribePortal               // RowDescription or NoData
	expExecute                      // rows, then CommandComplete, PortalSuspended or EmptyQueryResponse
	expSync                         // ReadyForQuery
	expQuery                        // anything, until ReadyForQuery (simple protocol)
)

// sink receives the messages of an entry.
type sink interface {
	// message gets one message; body is only valid during the call.
	message(typ byte, body []byte)
}

// entry is one response the client (or the router) is waiting for.
type entry struct {
	kind  expect
	conn  *conn
	sink  sink // nil: drop the messages
	local []byte
	// charOffset shifts error positions (a statement cut out of a
	// multi-statement Query).
	charOffset int
	// err is set when the server answered with an error.
	err error
	// onDone runs after the entry completed (with its error).
	onDone func(err error)
	// retry, for a read on a replica, can send it again elsewhere.
	retry *readRetry
}

// pipeline is the ordered queue of responses not yet delivered.
type pipeline struct {
	entries []*entry
	// spare is a drained array, reused by the next batch.
	spare []*entry
	// failed is set when an extended-protocol response was an error: the
	// rest of the batch is skipped until Sync, as PostgreSQL does.
	failed bool
	// busy is the conn with queued messages not yet read, if any.
	busy *conn
}

// clientSink relays messages to the client.
type clientSink struct{ s *Session }

func (c clientSink) message(typ byte, body []byte) { c.s.client.WriteRaw(typ, body) }

// quiet delivers everything queued (a settings replay, say) before the
// caller talks to a backend session directly, outside the pipeline.
func (s *Session) quiet(ctx context.Context) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.pipe.failed {
		return errSkipped
	}
	return nil
}

// newEntry places e in the session's arena of entries, recycled once no
// statement is in flight.
func (s *Session) newEntry(e entry) *entry {
	if s.entryUsed == len(s.entrySlab) {
		s.entrySlab = append(s.entrySlab, new(entry))
	}
	p := s.entrySlab[s.entryUsed]
	s.entryUsed++
	*p = e
	return p
}

// push queues an entry for the backend conn c.
func (s *Session) push(e *entry) {
	if e.conn != nil {
		s.pipe.busy = e.conn
	}
	s.pipe.entries = append(s.pipe.entries, e)
}

// Pipelines longer than these are drained as they grow: a client may send
// more than the sockets between it, the router and a server can hold, and
// a server blocked writing answers nobody reads stops reading requests.
const (
	maxPendingBytes   = 256 << 10
	maxPendingEntries = 1024
)

// Relieve drains the pipeline when it has grown past its bounds; the front
// end calls it after each extended-protocol message.
func (s *Session) Relieve(ctx context.Context) error {
	if len(s.pipe.entries) < maxPendingEntries && (s.pipe.busy == nil || s.pipe.busy.Pending() < maxPendingBytes) {
		return nil
	}
	return s.drain(ctx)
}

// respond queues a router-made message, in order with the relayed ones.
func (s *Session) respond(msg pgproto3.BackendMessage) {
	if len(s.pipe.entries) == 0 {
		s.client.Send(msg)
		return
	}
	buf, _ := msg.Encode(nil)
	s.pipe.entries = append(s.pipe.entries, s.newEntry(entry{kind: expLocal, local: buf}))
}

// fail reports a router-side error in order: after everything queued, and
// not at all when an earlier response already failed the batch.
func (s *Session) fail(ctx context.Context, err error) error {
	if derr := s.drain(ctx); derr != nil {
		return derr
	}
	if s.pipe.failed {
		return nil
	}
	s.sendError(err)
	s.pipe.failed = true
	return nil
}

// sendError writes an error for the client now.
func (s *Session) sendError(err error) {
	s.client.Send(pgerror.Response(err))
}

// drain delivers every queued response: it sends what the busy conn has
// buffered (with a Flush, so the server answers without waiting for a
// Sync), then reads the answers in order. A returned error means the
// session cannot go on (the client's connection failed); server errors are
// delivered to the client and recorded in the pipeline.
func (s *Session) drain(ctx context.Context) error {
	if len(s.pipe.entries) == 0 {
		return nil
	}
	flushed := map[*conn]bool{}
	for _, e := range s.pipe.entries {
		if e.conn == nil || flushed[e.conn] {
			continue
		}
		flushed[e.conn] = true
		if e.conn.needSync && !endsWithSync(s.pipe.entries, e.conn) {
			e.conn.Send(&pgproto3.Flush{})
		}
		if err := e.conn.Flush(ctx); err != nil {
			s.backendLost(e.conn, err)
		}
	}
	entries := s.pipe.entries
	s.pipe.entries = s.pipe.spare[:0]
	s.pipe.spare = nil
	s.pipe.busy = nil
	defer func() {
		// Keep the array for the next batch unless entries were queued
		// meanwhile (a retry drains on its own).
		clear(entries)
		if s.pipe.spare == nil {
			s.pipe.spare = entries[:0]
		}
	}()
	var skip *conn // a conn that answered an error: it ignores the rest until Sync
	for _, e := range entries {
		if e.kind == expLocal {
			if !s.pipe.failed {
				s.client.WriteRaw(e.local[0], e.local[5:])
			}
			continue
		}
		if e.retry != nil && e.retry.retried {
			continue // sent again on another node
		}
		if e.conn.abandoned {
			continue // a replica given up for another: its reads ran there
		}
		if e.conn == skip && e.kind != expSync && e.kind != expQuery {
			if e.onDone != nil {
				e.onDone(errSkipped)
			}
			continue
		}
		if e.retry != nil && !e.retry.marked {
			e.retry.mark, e.retry.marked = s.client.Mark(), true
		}
		err := s.complete(ctx, e)
		if err != nil && e.retry != nil && e.conn.replica && !s.pipe.failed {
			dead := e.conn
			if s.retryRead(ctx, e.retry, dead) {
				dead.abandoned = true
				continue
			}
		}
		if e.onDone != nil {
			e.onDone(firstNonNil(err, e.err))
		}
		if err != nil {
			// The conn is gone: report it once, fail the batch.
			if !s.pipe.failed {
				s.sendError(err)
			}
			s.pipe.failed = true
			skip = e.conn
			continue
		}
		if e.err != nil && e.kind != expQuery && e.kind != expSync {
			s.pipe.failed = true
			skip = e.conn
		}
	}
	return nil
}

var errSkipped = errors.New("skipped after an earlier error in the batch")

func firstNonNil(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func endsWithSync(entries []*entry, c *conn) bool {
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].conn == c {
			return entries[i].kind == expSync || entries[i].kind == expQuery
		}
	}
	return false
}

// backendLost marks a conn unusable after an I/O error.
func (s *Session) backendLost(c *conn, err error) {
	s.logger().Warn("backend connection failed", "cluster", c.cluster, "node", NodeName(c.url), "err", err)
	s.nodeFailed(c, err)
	c.Close()
}

// complete reads the responses of one entry from its conn.
func (s *Session) complete(ctx context.Context, e *entry) error {
	c := e.conn
	if c.Broken() {
		return pgerror.New(pgerror.ConnectionFailure, "connection to cluster %s was lost", c.cluster)
	}
	for {
		typ, body, err := c.Receive(ctx)
		if err != nil {
			s.backendLost(c, err)
			return pgerror.New(pgerror.ConnectionFailure, "lost connection to cluster %s: %v", c.cluster, err)
		}
		switch typ {
		case 'E':
			if fatalSeverity(body) {
				return s.serverEnded(e, body)
			}
			e.err = serverError(body)
			if e.sink != nil {
				s.relayError(e, body)
			}
			if e.kind != expQuery && e.kind != expSync {
				return nil
			}
			continue
		case 'N':
			if e.sink != nil {
				e.sink.message(typ, body)
			}
			continue
		case 'S':
			s.parameterStatus(body)
			continue
		case 'A':
			s.client.WriteRaw(typ, body)
			continue
		case 'G':
			if err := s.copyIn(ctx, e, body); err != nil {
				return err
			}
			continue
		case 'W':
			return pgerror.Unsupported("COPY BOTH (replication) is not supported through the router")
		}
		if e.sink != nil && typ != 'Z' {
			e.sink.message(typ, body)
		}
		switch e.kind {
		case expParse:
			if typ == '1' {
				return nil
			}
		case expBind:
			if typ == '2' {
				return nil
			}
		case expClose:
			if typ == '3' {
				return nil
			}
		case expDescribeStmt, expDescribePortal:
			if typ == 'T' || typ == 'n' {
				return nil
			}
		case expExecute:
			if typ == 'C' || typ == 's' || typ == 'I' {
				return nil
			}
		case expSync, expQuery:
			if typ == 'Z' {
				return nil
			}
		}
	}
}

// serverEnded handles a FATAL error: the server closes the connection
// after it. A read on a replica that can still go elsewhere fails as a
// lost connection (drain then retries it). Otherwise the client gets the
// error as an ERROR, since its session with the router lives on, and the
// batch fails.
func (s *Session) serverEnded(e *entry, body []byte) error {
	c := e.conn
	err := serverError(body)
	s.backendLost(c, err)
	if e.retry != nil && c.replica && !s.pipe.failed {
		return pgerror.New(pgerror.ConnectionFailure, "lost connection to a replica of cluster %s: %v", c.cluster, err)
	}
	e.err = err
	if e.sink != nil && !s.pipe.failed {
		s.relayError(e, downgradeFatal(body))
	}
	s.pipe.failed = true
	return err
}

// fatalSeverity reports whether an ErrorResponse body has severity FATAL
// or PANIC.
func fatalSeverity(body []byte) bool {
	for len(body) > 1 {
		code := body[0]
		end := bytes.IndexByte(body[1:], 0)
		if end < 0 {
			return false
		}
		if code == 'V' || code == 'S' {
			v := string(body[1 : 1+end])
			return v == "FATAL" || v == "PANIC"
		}
		body = body[2+end:]
	}
	return false
}

// downgradeFatal rewrites an ErrorResponse's severity to ERROR.
func downgradeFatal(body []byte) []byte {
	var msg pgproto3.ErrorResponse
	if err := msg.Decode(body); err != nil {
		return body
	}
	msg.Severity, msg.SeverityUnlocalized = "ERROR", "ERROR"
	buf, err := msg.Encode(nil)
	if err != nil {
		return body
	}
	return buf[5:]
}

// relayError sends a server's error to the entry's sink, moving its
// position when the statement was cut out of a longer Query text.
func (s *Session) relayError(e *entry, body []byte) {
	if e.charOffset == 0 {
		e.sink.message('E', body)
		return
	}
	var msg pgproto3.ErrorResponse
	if err := msg.Decode(body); err != nil || msg.Position == 0 {
		e.sink.message('E', body)
		return
	}
	msg.Position += int32(e.charOffset)
	buf, err := msg.Encode(nil)
	if err != nil {
		e.sink.message('E', body)
		return
	}
	e.sink.message('E', buf[5:])
}

// parameterStatus relays a backend's ParameterStatus to the client when it
// tells the client something new.
func (s *Session) parameterStatus(body []byte) {
	var ps pgproto3.ParameterStatus
	if err := ps.Decode(body); err != nil {
		return
	}
	if s.reported[ps.Name] == ps.Value {
		return
	}
	s.reported[ps.Name] = ps.Value
	s.client.WriteRaw('S', body)
}

// frame encodes a message into a new buffer (type, length, body).
func frame(typ byte, body []byte) []byte {
	buf := make([]byte, 5+len(body))
	buf[0] = typ
	binary.BigEndian.PutUint32(buf[1:], uint32(len(body)+4))
	copy(buf[5:], body)
	return buf
}

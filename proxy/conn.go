package proxy

import (
	"encoding/binary"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/executor"
	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
)

// clientSession is one client connection.
type clientSession struct {
	srv *Server
	// nc is the client's connection, a *tls.Conn once TLS is on.
	nc net.Conn
	// in counts what was read from the plain connection (startTLS).
	in *countingReader
	be *pgproto3.Backend
	// tls is the certificate the client was served, nil without TLS.
	tls  *tlsServing
	wbuf []byte
	werr error
	// flushes counts writes of wbuf, so that a Mark knows whether what
	// follows it is still unsent.
	flushes uint64

	pid      uint32
	secret   []byte
	user     string
	database string

	// id names the session in the logs; log is its logger.
	id  string
	log *slog.Logger
	// admitted is set once the session counts against
	// limits.max_client_conns.
	admitted bool
	// atReady is set after ReadyForQuery, until the next message: the
	// session is between requests. requestStart is when the current
	// request began.
	atReady      bool
	requestStart time.Time
	guard        guard
	// lmu guards life, which Shutdown reads and changes.
	lmu  sync.Mutex
	life lifecycle

	exec  *executor.Session
	stmts map[string]*preparedStatement
	// plans is the memory simple-protocol statements are planned into,
	// made at the first Query.
	plans *planner.Query
}

// preparedStatement is a client's statement with the shard map revision
// its plan was made for.
type preparedStatement struct {
	*executor.Prepared
	rev int64
}

// WriteRaw queues a message for the client (executor.Client).
func (cs *clientSession) WriteRaw(typ byte, body []byte) {
	if typ == 'E' {
		body = cs.guard.rewriteTimeout(body)
		cs.countError(backend.ErrorCode(body))
	}
	cs.wbuf = append(cs.wbuf, typ, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(cs.wbuf[len(cs.wbuf)-4:], uint32(len(body)+4))
	cs.wbuf = append(cs.wbuf, body...)
	if len(cs.wbuf) >= 64<<10 {
		cs.flush()
	}
}

// Send queues a message for the client (executor.Client).
func (cs *clientSession) Send(msg pgproto3.BackendMessage) { cs.send(msg) }

func (cs *clientSession) send(msg pgproto3.BackendMessage) {
	if e, ok := msg.(*pgproto3.ErrorResponse); ok {
		cs.countError(e.Code)
		if e.Code == pgerror.QueryCanceled && cs.guard.timedOut.Load() {
			e.Message = cs.guard.timeoutMessage()
		}
	}
	buf, err := msg.Encode(cs.wbuf)
	if err != nil {
		// Only an oversized field can fail to encode; say so instead.
		buf, _ = pgerror.Response(pgerror.New(pgerror.InternalError, "cannot encode %T: %v", msg, err)).Encode(cs.wbuf)
	}
	cs.wbuf = buf
	if len(cs.wbuf) >= 64<<10 {
		cs.flush()
	}
}

// Flush writes the queued messages (executor.Client).
func (cs *clientSession) Flush() error { return cs.flush() }

func (cs *clientSession) flush() error {
	if cs.werr != nil {
		return cs.werr
	}
	if len(cs.wbuf) == 0 {
		return nil
	}
	_, err := cs.nc.Write(cs.wbuf)
	cs.flushes++
	if cap(cs.wbuf) > 256<<10 {
		cs.wbuf = nil
	} else {
		cs.wbuf = cs.wbuf[:0]
	}
	if err != nil {
		cs.werr = err
	}
	return err
}

// Mark returns the end of the unflushed output (executor.Client).
func (cs *clientSession) Mark() executor.Mark {
	return executor.Mark{Pos: len(cs.wbuf), Epoch: cs.flushes}
}

// Rewind cuts the output back to a mark if nothing was flushed since
// (executor.Client).
func (cs *clientSession) Rewind(m executor.Mark) bool {
	if m.Epoch != cs.flushes || m.Pos > len(cs.wbuf) {
		return false
	}
	cs.wbuf = cs.wbuf[:m.Pos]
	return true
}

// ReceiveCopy reads the next COPY message (executor.Client). Flush and
// Sync during COPY are ignored, as PostgreSQL does; anything else aborts
// the COPY.
func (cs *clientSession) ReceiveCopy() (pgproto3.FrontendMessage, error) {
	for {
		msg, err := cs.be.Receive()
		if err != nil {
			return nil, err
		}
		switch msg.(type) {
		case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
			return msg, nil
		case *pgproto3.Flush, *pgproto3.Sync:
			continue
		default:
			return &pgproto3.CopyFail{Message: "unexpected message type during COPY from stdin"}, nil
		}
	}
}

// sendError queues an ErrorResponse.
func (cs *clientSession) sendError(err error) { cs.send(pgerror.Response(err)) }

// fatal sends a FATAL error and flushes; the caller closes the connection.
func (cs *clientSession) fatal(err error) {
	r := pgerror.Response(err)
	r.Severity, r.SeverityUnlocalized = "FATAL", "FATAL"
	cs.send(r)
	cs.flush()
}

// countError counts an error sent to the client.
func (cs *clientSession) countError(code string) {
	cs.srv.stats.Errors.Add(code)
}

// readyForQuery queues ReadyForQuery, which ends the current request, and
// flushes.
func (cs *clientSession) readyForQuery() error {
	cs.endRequest()
	cs.send(&pgproto3.ReadyForQuery{TxStatus: cs.exec.TxStatus()})
	return cs.flush()
}

// beginRequest notes the first message of a request.
func (cs *clientSession) beginRequest() {
	if !cs.atReady {
		return
	}
	cs.atReady = false
	cs.requestStart = time.Now()
	cs.guard.begin()
	if cs.exec != nil {
		cs.exec.BeginRequest()
	}
}

// endRequest notes the end of a request (its ReadyForQuery).
func (cs *clientSession) endRequest() {
	cs.guard.end()
	if !cs.atReady {
		cs.srv.stats.Requests.Observe(time.Since(cs.requestStart))
	}
	cs.atReady = true
}

package executor

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/pool"
)

// conn is a backend session as one client session uses it, leased from
// the pool.
type conn struct {
	*backend.Conn
	lease   *pool.Entry[*backend.Conn]
	pool    Pool
	cluster string
	url     string
	// dirty is set when the session left state here that another client
	// must not see: the pool resets it first.
	dirty bool

	// inTxn is true once BEGIN was sent for the current transaction.
	inTxn bool
	// participant is true while the conn belongs to the current
	// (implicit or explicit) transaction.
	participant bool
	// needSync is true when extended-protocol messages were sent since
	// the last Sync.
	needSync bool
	// unnamed is the statement key the server's unnamed statement holds,
	// "" when unknown.
	unnamed string
	// statuses are ParameterStatus bodies Exec read, for the session to
	// pass on (Exec may run on another goroutine).
	statuses [][]byte
	// replica is set for a conn to a replica (reads only).
	replica bool
	// untrack is the replica's count of reads in flight, which this conn
	// is part of.
	untrack *atomic.Int64
	// wrote is set when the current transaction may have written here.
	wrote bool
	// seqState is set once a statement that may have called nextval or
	// setval (any write) ran here during this lease: the sequence state
	// of the server session is reset before another client gets it.
	seqState bool
	// abandoned is set on a failed replica whose reads were sent
	// elsewhere.
	abandoned bool
}

// Close closes the backend session and gives its slot back.
func (c *conn) Close() error {
	c.release(pool.Broken)
	return nil
}

// release gives the backend session back to the pool.
func (c *conn) release(how pool.Release) {
	if c.untrack != nil {
		c.untrack.Add(-1)
		c.untrack = nil
	}
	if c.lease == nil {
		if how == pool.Broken {
			c.Conn.Close()
		}
		return
	}
	e := c.lease
	c.lease = nil
	c.pool.Release(e, how)
}

// markWrote notes a statement that may write.
func (c *conn) markWrote() {
	c.wrote = true
	c.seqState = true
}

// Cluster names the conn's cluster (txn.Participant).
func (c *conn) Cluster() string { return c.cluster }

// Exec runs one command with the simple protocol and waits for it,
// dropping its results (txn.Participant). The pipeline must be empty.
func (c *conn) Exec(ctx context.Context, sql string) error {
	c.unnamed = ""
	_, err := execSimple(ctx, c.Conn, sql, c.keepStatus)
	return err
}

// keepStatus keeps a ParameterStatus for the session to pass on.
func (c *conn) keepStatus(body []byte) {
	c.statuses = append(c.statuses, append([]byte(nil), body...))
}

// awaitReady reads the answer to one simple Query (or to extended-protocol
// messages up to their Sync) up to ReadyForQuery, and returns its rows as
// text and the first error the server sent. It keeps ParameterStatus
// messages for the session.
func (c *conn) awaitReady(ctx context.Context) ([][]string, error) {
	return awaitReady(ctx, c.Conn, c.keepStatus)
}

// execSimple runs sql on bc and waits for ReadyForQuery (see awaitReady).
func execSimple(ctx context.Context, bc *backend.Conn, sql string, onStatus func([]byte)) ([][]string, error) {
	bc.SendQuery(sql)
	if err := bc.Flush(ctx); err != nil {
		return nil, err
	}
	return awaitReady(ctx, bc, onStatus)
}

// awaitReady reads up to ReadyForQuery: the rows as text and the first
// error; onStatus, when set, gets each ParameterStatus body.
func awaitReady(ctx context.Context, bc *backend.Conn, onStatus func([]byte)) ([][]string, error) {
	var rows [][]string
	var firstErr error
	for {
		typ, body, err := bc.Receive(ctx)
		if err != nil {
			return nil, err
		}
		switch typ {
		case 'D':
			var dr pgproto3.DataRow
			if err := dr.Decode(body); err != nil {
				return nil, err
			}
			row := make([]string, len(dr.Values))
			for i, v := range dr.Values {
				row[i] = string(v)
			}
			rows = append(rows, row)
		case 'E':
			if firstErr == nil {
				firstErr = serverError(body)
			}
		case 'S':
			if onStatus != nil {
				onStatus(body)
			}
		case 'Z':
			return rows, firstErr
		}
	}
}

// serverError decodes an ErrorResponse body.
func serverError(body []byte) error {
	var msg pgproto3.ErrorResponse
	if err := msg.Decode(body); err != nil {
		return pgerror.New(pgerror.ProtocolViolation, "malformed error from server: %v", err)
	}
	return pgerror.FromServer(&msg)
}

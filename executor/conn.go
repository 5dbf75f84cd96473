package executor

import (
	"context"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/pgerror"
)

// conn is a backend session as one client session uses it.
type conn struct {
	*backend.Conn
	cluster string
	url     string

	// inTxn is true once BEGIN was sent for the current transaction.
	inTxn bool
	// participant is true while the conn belongs to the current
	// (implicit or explicit) transaction.
	participant bool
	// needSync is true when extended-protocol messages were sent since
	// the last Sync.
	needSync bool
	// settingsGen is the generation of the session settings replayed here.
	settingsGen int
	// unnamed is the statement key the server's unnamed statement holds,
	// "" when unknown.
	unnamed string
	// statuses are ParameterStatus bodies Exec read, for the session to
	// pass on (Exec may run on another goroutine).
	statuses [][]byte
	// replica is set for a conn to a replica (reads only).
	replica bool
	// release ends the conn's count in the replica tracker.
	release func()
	// wrote is set when the current transaction may have written here.
	wrote bool
	// abandoned is set on a failed replica whose reads were sent
	// elsewhere.
	abandoned bool
}

// Close closes the backend session and its accounting.
func (c *conn) Close() error {
	if c.release != nil {
		c.release()
		c.release = nil
	}
	return c.Conn.Close()
}

// Cluster names the conn's cluster (txn.Participant).
func (c *conn) Cluster() string { return c.cluster }

// Exec runs one command with the simple protocol and waits for it,
// dropping its results (txn.Participant). The pipeline must be empty.
func (c *conn) Exec(ctx context.Context, sql string) error {
	c.SendQuery(sql)
	c.unnamed = ""
	if err := c.Flush(ctx); err != nil {
		return err
	}
	_, err := c.awaitReady(ctx)
	return err
}

// awaitReady reads the answer to one simple Query (or to extended-protocol
// messages up to their Sync) up to ReadyForQuery, and returns its rows as
// text and the first error the server sent. It keeps
// ParameterStatus messages for the session.
func (c *conn) awaitReady(ctx context.Context) ([][]string, error) {
	var rows [][]string
	var firstErr error
	for {
		typ, body, err := c.Receive(ctx)
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
			c.statuses = append(c.statuses, append([]byte(nil), body...))
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

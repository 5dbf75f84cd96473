package executor

import (
	"context"

	"github.com/jackc/pgx/v5/pgproto3"
)

// copyIn relays a COPY FROM STDIN: the server's CopyInResponse goes to the
// client, then the client's CopyData stream goes to the server until
// CopyDone or CopyFail. Memory stays bounded: data is sent on as it comes.
func (s *Session) copyIn(ctx context.Context, e *entry, body []byte) error {
	c := e.conn
	if e.sink == nil {
		// An internal command never copies; refuse rather than hang.
		c.Send(&pgproto3.CopyFail{Message: "COPY is not expected here"})
		return c.Flush(ctx)
	}
	e.sink.message('G', body)
	if err := s.client.Flush(); err != nil {
		return err
	}
	for {
		msg, err := s.client.ReceiveCopy()
		if err != nil {
			// The client is gone: end the COPY so the server rolls it back.
			c.Send(&pgproto3.CopyFail{Message: "client connection lost during COPY"})
			c.Flush(ctx)
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			c.SendRaw('d', m.Data)
			if c.Pending() >= 64<<10 {
				if err := c.Flush(ctx); err != nil {
					return err
				}
			}
		case *pgproto3.CopyDone:
			c.Send(m)
			return c.Flush(ctx)
		case *pgproto3.CopyFail:
			c.Send(m)
			return c.Flush(ctx)
		}
	}
}

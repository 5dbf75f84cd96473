package executor

import (
	"slices"

	"github.com/jackc/pgx/v5/pgproto3"
)

// maxCapturedBytes bounds the rows the router keeps of a query whose rows
// it inserts elsewhere (INSERT ... SELECT through the router).
const maxCapturedBytes = 256 << 20

// capture stands in for the client while the router runs a query for
// itself: it keeps the row description and the rows, and passes errors,
// notices and parameter statuses on to the real client.
type capture struct {
	Client
	rowDesc []byte
	rows    [][]byte
	size    int
	// tooBig is set when the rows passed maxCapturedBytes (the rest were
	// dropped); failed when an error went to the client.
	tooBig, failed bool
}

// WriteRaw keeps rows and their description, drops the other answers of
// the query, and relays the rest.
func (c *capture) WriteRaw(typ byte, body []byte) {
	switch typ {
	case 'T':
		c.rowDesc = slices.Clone(body)
	case 'D':
		c.size += len(body)
		if c.size > maxCapturedBytes {
			c.tooBig = true
			return
		}
		c.rows = append(c.rows, slices.Clone(body))
	case 'C', 'I', 's', 'n', 't', '1', '2', '3':
	case 'E':
		c.failed = true
		c.Client.WriteRaw(typ, body)
	default:
		c.Client.WriteRaw(typ, body)
	}
}

// Send is WriteRaw of an encoded message.
func (c *capture) Send(msg pgproto3.BackendMessage) {
	buf, err := msg.Encode(nil)
	if err != nil || len(buf) < 5 {
		return
	}
	c.WriteRaw(buf[0], buf[5:])
}

// Rewind refuses: what was captured cannot be taken back.
func (c *capture) Rewind(Mark) bool { return false }

package backend

import (
	"bytes"
	"time"
)

// Observer hears what a connection sees, for metrics. Its methods run on
// the connection's hot path: they must be cheap and safe for concurrent
// use (one Observer usually serves every connection to a server).
type Observer interface {
	// RoundTrip is called at a ReadyForQuery with the time since the
	// requests it ends were written. Requests written together count
	// once: at the first ReadyForQuery after the write.
	RoundTrip(d time.Duration)
	// ServerError is called for each ErrorResponse with its SQLSTATE.
	ServerError(code string)
}

// observe reports a received message to the observer.
func (c *Conn) observe(typ byte, body []byte) {
	switch typ {
	case 'Z':
		if !c.sentAt.IsZero() {
			c.obs.RoundTrip(time.Since(c.sentAt))
			c.sentAt = time.Time{}
		}
	case 'E':
		c.obs.ServerError(ErrorCode(body))
	}
}

// ErrorCode returns the SQLSTATE field of an ErrorResponse (or
// NoticeResponse) body, "" when it has none.
func ErrorCode(body []byte) string {
	for len(body) > 1 {
		field := body[0]
		end := bytes.IndexByte(body[1:], 0)
		if end < 0 {
			return ""
		}
		if field == 'C' {
			return string(body[1 : 1+end])
		}
		body = body[2+end:]
	}
	return ""
}

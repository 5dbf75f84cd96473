package e2e

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// rawConn dials the router without a client library.
func rawConn(t testing.TB) net.Conn {
	t.Helper()
	return dialAddr(t, stack.Router.Addr())
}

// dialAddr dials a server without a client library; the connection is
// closed when the test ends.
func dialAddr(t testing.TB, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { nc.Close() })
	return nc
}

// startupRaw logs in to the router and returns the connection to speak
// the protocol by hand.
func startupRaw(t testing.TB) (net.Conn, *pgproto3.Frontend) {
	t.Helper()
	return hijacked(t, stack.RouterDSN(), nil)
}

// expectErrorAndClose reads until an ErrorResponse, then expects EOF.
func expectErrorAndClose(t testing.TB, nc net.Conn, wantCode string) {
	t.Helper()
	fe := pgproto3.NewFrontend(nc, nc)
	sawError := false
	for {
		msg, err := fe.Receive()
		if err != nil {
			if !sawError && wantCode != "" {
				t.Errorf("connection closed without an error (%v)", err)
			}
			return
		}
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			sawError = true
			if wantCode != "" && e.Code != wantCode {
				t.Errorf("error %s %q, want %s", e.Code, e.Message, wantCode)
			}
		}
	}
}

// routerServes checks that a normal client still gets answers.
func routerServes(t testing.TB) {
	t.Helper()
	c := connect(t)
	var one int
	if err := c.QueryRow(ctxT(t), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("the router stopped serving: %v", err)
	}
}

func TestMalformedInputGetsAnErrorAndAClosedConnection(t *testing.T) {
	cases := []struct {
		name string
		do   func(t *testing.T)
	}{
		{"garbage instead of a startup packet", func(t *testing.T) {
			nc := rawConn(t)
			nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			expectErrorAndClose(t, nc, "08P01")
		}},
		{"startup packet too short", func(t *testing.T) {
			nc := rawConn(t)
			nc.Write([]byte{0, 0, 0, 5, 1})
			expectErrorAndClose(t, nc, "08P01")
		}},
		{"startup packet claiming 2 GB", func(t *testing.T) {
			nc := rawConn(t)
			nc.Write([]byte{0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0})
			expectErrorAndClose(t, nc, "08P01")
		}},
		{"unknown protocol code", func(t *testing.T) {
			nc := rawConn(t)
			nc.Write([]byte{0, 0, 0, 8, 0x12, 0x34, 0x56, 0x78})
			expectErrorAndClose(t, nc, "08P01")
		}},
		{"startup parameters not terminated", func(t *testing.T) {
			nc := rawConn(t)
			body := append([]byte{0, 3, 0, 0}, []byte("user\x00app")...)
			pkt := binary.BigEndian.AppendUint32(nil, uint32(len(body)+4))
			nc.Write(append(pkt, body...))
			expectErrorAndClose(t, nc, "08P01")
		}},
		{"message length below 4", func(t *testing.T) {
			nc, _ := startupRaw(t)
			nc.Write([]byte{'Q', 0, 0, 0, 2})
			expectErrorAndClose(t, nc, "08P01")
		}},
		{"message length of 2^31-1", func(t *testing.T) {
			nc, _ := startupRaw(t)
			nc.Write([]byte{'Q', 0x7f, 0xff, 0xff, 0xff, 'S', 'E', 'L'})
			expectErrorAndClose(t, nc, "08P01")
		}},
		{"unknown message type", func(t *testing.T) {
			nc, _ := startupRaw(t)
			nc.Write([]byte{'?', 0, 0, 0, 4})
			expectErrorAndClose(t, nc, "08P01")
		}},
		{"malformed Bind", func(t *testing.T) {
			nc, _ := startupRaw(t)
			nc.Write([]byte{'B', 0, 0, 0, 9, 0, 0, 0xff, 0xff, 0xff})
			expectErrorAndClose(t, nc, "08P01")
		}},
		{"truncated message then hang-up", func(t *testing.T) {
			nc, _ := startupRaw(t)
			nc.Write([]byte{'Q', 0, 0, 0, 100, 'S', 'E'})
			nc.(interface{ CloseWrite() error }).CloseWrite()
			io.Copy(io.Discard, nc)
		}},
		{"random bytes after startup", func(t *testing.T) {
			nc, _ := startupRaw(t)
			buf := make([]byte, 4096)
			for i := range buf {
				buf[i] = byte(i*7 + 13)
			}
			nc.Write(buf)
			expectErrorAndClose(t, nc, "")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.do(t)
			routerServes(t)
		})
	}
}

// A client that opens a connection and never sends a startup packet does
// not hold up anybody else.
func TestSilentClientDoesNotBlockOthers(t *testing.T) {
	for range 20 {
		rawConn(t)
	}
	routerServes(t)
}

package e2e

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/router"
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

// 10,000 connections opened and dropped at every stage of the handshake
// leave the router serving, with no session left behind.
func TestTenThousandConnectionsOpenedAndDropped(t *testing.T) {
	startup, _ := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "app", "database": "app"}}).Encode(nil)
	before := stack.Router.Sessions()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range 10000 {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			nc, err := net.DialTimeout("tcp", stack.Router.Addr(), 5*time.Second)
			if err != nil {
				t.Errorf("connection %d: %v", i, err)
				return
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			switch i % 4 {
			case 0: // nothing at all
			case 1: // half a startup packet
				nc.Write(startup[:len(startup)/2])
			case 2: // a whole one, then gone before the answer is read
				nc.Write(startup)
			case 3: // logged in, then gone mid-query
				nc.Write(startup)
				buf := make([]byte, 512)
				nc.Read(buf)
				nc.Write([]byte{'Q', 0, 0, 0, 40, 'S', 'E', 'L'})
			}
		})
	}
	wg.Wait()
	routerServes(t)
	deadline := time.Now().Add(20 * time.Second)
	for stack.Router.Sessions() > before+1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions left after the connections closed (%d before)", stack.Router.Sessions(), before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Slow-loris clients that trickle a startup packet and never finish are
// cut off at limits.startup_timeout, and meanwhile others are served.
func TestSlowLorisClientsAreCutOff(t *testing.T) {
	ctx := ctxT(t)
	cfg := router.Config{Listen: "127.0.0.1:0", Etcd: router.EtcdConfig{Endpoints: stack.Deployment.Etcd.Endpoints(), Key: stack.MapKey}}
	cfg.Limits.StartupTimeout = 500 * time.Millisecond
	r, err := router.Start(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Shutdown(sctx)
	}()
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	var slow []net.Conn
	for range 200 {
		nc, err := net.DialTimeout("tcp", r.Addr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write([]byte{0, 0, 0, 80, 0, 3}) // and nothing more
		slow = append(slow, nc)
	}
	host, port, _ := net.SplitHostPort(r.Addr())
	c, err := pgx.Connect(ctx, "postgres://app@"+net.JoinHostPort(host, port)+"/app?sslmode=disable")
	if err != nil {
		t.Fatalf("a normal client could not log in next to slow ones: %v", err)
	}
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	for i, nc := range slow {
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, nc); err != nil {
			t.Fatalf("slow client %d was not disconnected: %v", i, err)
		}
	}
}

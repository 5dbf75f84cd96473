package proxy

import (
	"bytes"
	"log/slog"
	"net"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"
	"testing"
	"time"

	"github.com/sqlrouter/sqlrouter/executor"
	"github.com/sqlrouter/sqlrouter/planner"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// FuzzStartup feeds arbitrary bytes to a fresh connection: the handshake
// code (startup packets, SSL and cancel requests, options, SCRAM) must
// answer or hang up, never panic or hang.
func FuzzStartup(f *testing.F) {
	f.Add([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f})                                                     // SSLRequest
	f.Add([]byte{0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2})                            // CancelRequest
	f.Add(append([]byte{0, 0, 0, 41, 0, 3, 0, 0}, "user\x00app\x00options\x00-c a=b --c-d=e\x00\x00"...)) // StartupMessage
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	srv, err := NewServer(Config{Auth: AuthConfig{Method: AuthSCRAMSHA256, Users: []User{{Name: "app", Password: "pw"}}}, StartupTimeout: time.Second},
		Deps{Planner: planner.New(planner.Options{}), Executor: &executor.Config{}, Snapshot: func() *shardmap.Snapshot { return nil }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.serveConn(server)
		}()
		go func() {
			// Drain what the server says so it never blocks writing.
			buf := make([]byte, 4096)
			for {
				if _, err := client.Read(buf); err != nil {
					return
				}
			}
		}()
		client.SetWriteDeadline(time.Now().Add(time.Second))
		client.Write(data)
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the server did not finish with the connection")
		}
	})
}

func TestParseOptions(t *testing.T) {
	got := parseOptions(`-c work_mem=4MB --search-path=a,b -csearch_path=x -c a\ b=c\\d`)
	want := map[string]string{"work_mem": "4MB", "search_path": "x", "a b": `c\d`}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %q)", k, got[k], v, got)
		}
	}
}

// clientMessages frames frontend messages as a client sends them.
func clientMessages(tb testing.TB, msgs ...pgproto3.FrontendMessage) []byte {
	var buf []byte
	for _, m := range msgs {
		var err error
		if buf, err = m.Encode(buf); err != nil {
			tb.Fatal(err)
		}
	}
	return buf
}

// loggedIn opens a session on srv and returns the client end, after the
// startup.
func loggedIn(tb testing.TB, srv *Server) (net.Conn, *pgproto3.Frontend) {
	c, fe, _ := loggedInDone(tb, srv)
	return c, fe
}

// loggedInDone is loggedIn, with a channel closed when the server is
// done with the session.
func loggedInDone(tb testing.TB, srv *Server) (net.Conn, *pgproto3.Frontend, <-chan struct{}) {
	tb.Helper()
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.serveConn(server)
		server.Close() // as the listener's loop does
	}()
	fe := pgproto3.NewFrontend(client, client)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "app", "database": "app"}})
	client.SetDeadline(time.Now().Add(5 * time.Second))
	if err := fe.Flush(); err != nil {
		tb.Fatal(err)
	}
	for {
		msg, err := fe.Receive()
		if err != nil {
			tb.Fatalf("startup: %v", err)
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			tb.Fatalf("startup: %s", m.Message)
		case *pgproto3.ReadyForQuery:
			client.SetDeadline(time.Time{})
			return client, fe, done
		}
	}
}

// FuzzClientMessages feeds arbitrary bytes to a logged-in session: the
// message decoder and everything behind it (planner, executor, pipeline)
// must answer, or end the connection with an error, never panic or hang;
// and the router serves the next client.
func FuzzClientMessages(f *testing.F) {
	seeds := [][]pgproto3.FrontendMessage{
		{&pgproto3.Query{String: "SELECT * FROM items WHERE id = 1"}},
		{&pgproto3.Query{String: "BEGIN; SELECT 1; COMMIT"}},
		{&pgproto3.Parse{Name: "s", Query: "SELECT * FROM items WHERE id = $1", ParameterOIDs: []uint32{20}},
			&pgproto3.Bind{PreparedStatement: "s", Parameters: [][]byte{[]byte("7")}}, &pgproto3.Describe{ObjectType: 'P'},
			&pgproto3.Execute{MaxRows: 1}, &pgproto3.Execute{}, &pgproto3.Close{ObjectType: 'S', Name: "s"}, &pgproto3.Sync{}},
		{&pgproto3.Parse{Query: "SELECT $1::int"}, &pgproto3.Bind{Parameters: [][]byte{nil}, ResultFormatCodes: []int16{1}}, &pgproto3.Flush{}, &pgproto3.Sync{}},
		{&pgproto3.CopyData{Data: []byte("1\n")}, &pgproto3.CopyDone{}, &pgproto3.CopyFail{Message: "x"}},
		{&pgproto3.FunctionCall{Function: 1}, &pgproto3.Sync{}},
		{&pgproto3.Query{String: "SET sqlrouter.read_consistency = eventual; SHOW sqlrouter.last_route"}},
		{&pgproto3.Terminate{}},
	}
	for _, s := range seeds {
		f.Add(clientMessages(f, s...))
	}
	f.Add([]byte{'Q', 0x7f, 0xff, 0xff, 0xff})        // a length of 2^31
	f.Add([]byte{'P', 0, 0, 0, 3})                    // a length below the minimum
	f.Add([]byte{'B', 0, 0, 0, 12, 0, 0, 0xff, 0xff}) // truncated Bind
	srv := newFakeServer(f)
	var logs syncBuffer
	srv.cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelError}))
	f.Fuzz(func(t *testing.T, data []byte) {
		client, _, served := loggedInDone(t, srv)
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := client.Read(buf); err != nil {
					return
				}
			}
		}()
		client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		client.Write(data)
		client.Write(clientMessages(t, &pgproto3.Sync{}, &pgproto3.Query{String: "SELECT 1"}))
		// A message may still wait for bytes nobody sends: hanging up
		// must end the session.
		client.Close()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("the session did not end after the client hung up")
		}
		if n := srv.panics.Load(); n > 0 {
			t.Fatalf("%d sessions panicked:\n%s", n, logs.String())
		}
		// The router serves the next client.
		c2, fe := loggedIn(t, srv)
		defer c2.Close()
		fe.Send(&pgproto3.Query{String: "SELECT 1"})
		fe.Flush()
		c2.SetDeadline(time.Now().Add(5 * time.Second))
		for {
			msg, err := fe.Receive()
			if err != nil {
				t.Fatalf("the next client got no answer: %v", err)
			}
			if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
				break
			}
		}
	})
}

// A panic while serving one client ends that client's session with
// XX000; other sessions go on.
func TestPanicCostsOneSession(t *testing.T) {
	srv := newFakeServer(t)
	srv.testHook = func(msg pgproto3.FrontendMessage) {
		if q, ok := msg.(*pgproto3.Query); ok && q.String == "SELECT 'boom'" {
			panic("injected")
		}
	}
	other, ofe := loggedIn(t, srv)
	defer other.Close()
	c, fe := loggedIn(t, srv)
	defer c.Close()
	fe.Send(&pgproto3.Query{String: "SELECT 'boom'"})
	fe.Flush()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var code string
	for {
		msg, err := fe.Receive()
		if err != nil {
			break
		}
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			code = e.Code
		}
	}
	if code != "XX000" {
		t.Errorf("the panicking session got %q, want XX000", code)
	}
	ofe.Send(&pgproto3.Query{String: "SELECT 1"})
	ofe.Flush()
	other.SetDeadline(time.Now().Add(5 * time.Second))
	for {
		msg, err := ofe.Receive()
		if err != nil {
			t.Fatalf("another session died with it: %v", err)
		}
		if _, ok := msg.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	if srv.Panics() != 1 {
		t.Errorf("panics counted: %d", srv.Panics())
	}
}

// syncBuffer is a bytes.Buffer safe for the sessions' goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

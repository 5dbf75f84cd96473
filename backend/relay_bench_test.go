package backend_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/backend"
)

// Benchmarks of the relay path: a Conn reading DataRows from a server and
// appending them, still framed, to a client write buffer, the way a
// single-cluster result reaches the client without being decoded. The
// server is a fake on a loopback socket that answers "rows N" with N
// copies of one DataRow, so the numbers are the router's side only.
//
//	go test -run '^$' -bench . -benchmem ./backend
//
// CI runs them with -benchtime=1x so that they cannot rot.

// Two DataRows: pgbench -S's single int4 column, and a row of a few typed
// columns (bigint, text, numeric, timestamptz) as an ORM reads it.
var (
	smallRow = []string{"4242"}
	wideRow  = []string{"1234567", "Ann Example", "ann@example.com", "1234.50", "2024-06-01 12:34:56.789+00", "us"}
)

// fakeServer is a PostgreSQL stand-in: trust login, then "rows N" answered
// with N DataRows, CommandComplete and ReadyForQuery; anything else with
// EmptyQueryResponse and ReadyForQuery.
type fakeServer struct {
	ln  net.Listener
	row []byte // one framed DataRow
	wg  sync.WaitGroup
}

func startFakeServer(b *testing.B, columns []string) *fakeServer {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var values [][]byte
	for _, c := range columns {
		values = append(values, []byte(c))
	}
	row, err := (&pgproto3.DataRow{Values: values}).Encode(nil)
	if err != nil {
		b.Fatal(err)
	}
	s := &fakeServer{ln: ln, row: row}
	s.wg.Go(s.acceptLoop)
	b.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *fakeServer) url() string {
	return fmt.Sprintf("postgres://bench@%s/bench?sslmode=disable", s.ln.Addr())
}

func (s *fakeServer) acceptLoop() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Go(func() {
			defer nc.Close()
			s.serve(nc)
		})
	}
}

// serve runs one session until the client terminates or goes away.
func (s *fakeServer) serve(nc net.Conn) {
	be := pgproto3.NewBackend(nc, nc)
	if _, err := be.ReceiveStartupMessage(); err != nil {
		return
	}
	be.Send(&pgproto3.AuthenticationOk{})
	for k, v := range map[string]string{"server_version": "15.0", "client_encoding": "UTF8", "standard_conforming_strings": "on", "DateStyle": "ISO, MDY"} {
		be.Send(&pgproto3.ParameterStatus{Name: k, Value: v})
	}
	be.Send(&pgproto3.BackendKeyData{ProcessID: 4242, SecretKey: []byte{1, 2, 3, 4}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err := be.Flush(); err != nil {
		return
	}
	// A batch of rows written with one syscall, as a server fills its
	// socket buffer.
	batch := make([]byte, 0, 64<<10)
	for len(batch)+len(s.row) <= cap(batch) {
		batch = append(batch, s.row...)
	}
	perBatch := len(batch) / len(s.row)
	// After startup the loop reads and writes raw bytes into reused
	// buffers, so that the benchmarks' allocation counts are the client's.
	rd := bufio.NewReaderSize(nc, 8<<10)
	var head [5]byte
	body := make([]byte, 0, 1024)
	tail := make([]byte, 0, 64)
	for {
		if _, err := io.ReadFull(rd, head[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(head[1:])) - 4
		if n < 0 || n > 1<<20 {
			return
		}
		body = slices.Grow(body[:0], n)[:n]
		if _, err := io.ReadFull(rd, body); err != nil {
			return
		}
		switch head[0] {
		case 'X':
			return
		case 'Q':
		default:
			continue
		}
		text := bytes.TrimSuffix(body, []byte{0})
		tail = tail[:0]
		count, ok := bytes.CutPrefix(text, []byte("rows "))
		if ok {
			rows, _ := strconv.Atoi(string(count))
			for rows > 0 {
				k := min(rows, perBatch)
				if _, err := nc.Write(batch[:k*len(s.row)]); err != nil {
					return
				}
				rows -= k
			}
			// CommandComplete "SELECT n".
			tail = append(tail, 'C', 0, 0, 0, 0)
			tail = append(tail, "SELECT "...)
			tail = append(tail, count...)
			tail = append(tail, 0)
			binary.BigEndian.PutUint32(tail[1:], uint32(len(tail)-1))
		} else {
			tail = append(tail, 'I', 0, 0, 0, 4) // EmptyQueryResponse
		}
		tail = append(tail, 'Z', 0, 0, 0, 5, 'I')
		if _, err := nc.Write(tail); err != nil {
			return
		}
	}
}

func dialFake(b *testing.B, s *fakeServer) *backend.Conn {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := backend.Dial(ctx, backend.DialOptions{URL: s.url()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// relay appends a received message to out, framed again as the client
// expects it, and returns out emptied once it reaches a client socket
// buffer's worth (the write itself is not measured).
func relay(out []byte, typ byte, body []byte) []byte {
	if len(out) > 32<<10 {
		out = out[:0]
	}
	out = append(out, typ, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(out[len(out)-4:], uint32(len(body)+4))
	return append(out, body...)
}

// BenchmarkRelayDataRow streams rows from one query: each iteration is one
// Conn.Receive of a DataRow and its relay into the client buffer.
func BenchmarkRelayDataRow(b *testing.B) {
	for _, tc := range []struct {
		name    string
		columns []string
	}{{"1col", smallRow}, {"6cols", wideRow}} {
		b.Run(tc.name, func(b *testing.B) {
			s := startFakeServer(b, tc.columns)
			c := dialFake(b, s)
			ctx := context.Background()
			out := make([]byte, 0, 64<<10)
			c.SendQuery("rows " + strconv.Itoa(b.N))
			if err := c.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(s.row)))
			b.ResetTimer()
			for range b.N {
				typ, body, err := c.Receive(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if typ != 'D' {
					b.Fatalf("got message %q, want a DataRow", typ)
				}
				out = relay(out, typ, body)
			}
			b.StopTimer()
			for {
				typ, _, err := c.Receive(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if typ == 'Z' {
					break
				}
			}
		})
	}
}

// BenchmarkRelayPointQuery is one whole single-row statement per
// iteration: Query out, DataRow, CommandComplete and ReadyForQuery back
// and relayed, over a loopback socket (so it includes two socket round
// trips' worth of system calls, the floor of any relaying proxy).
func BenchmarkRelayPointQuery(b *testing.B) {
	s := startFakeServer(b, smallRow)
	c := dialFake(b, s)
	ctx := context.Background()
	out := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		c.SendQuery("rows 1")
		if err := c.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		for {
			typ, body, err := c.Receive(ctx)
			if err != nil {
				b.Fatal(err)
			}
			out = relay(out, typ, body)
			if typ == 'Z' {
				break
			}
		}
	}
}

package e2e

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// rawClient speaks the protocol with pre-encoded messages, so that a
// benchmark's allocations are the router's, not the client's.
type rawClient struct {
	nc net.Conn
	r  *bufio.Reader
}

func newRawClient(tb testing.TB) *rawClient {
	tb.Helper()
	// Plain text, as pgbench against PostgreSQL or PgBouncer.
	dsn := strings.Replace(stack.RouterDSN(), "sslmode=require", "sslmode=disable", 1)
	nc, _ := hijacked(tb, dsn, nil)
	nc.SetDeadline(time.Time{})
	return &rawClient{nc: nc, r: bufio.NewReaderSize(nc, 32<<10)}
}

// roundTrip sends msg and reads until ReadyForQuery, failing on an error.
func (c *rawClient) roundTrip(tb testing.TB, msg []byte) {
	if _, err := c.nc.Write(msg); err != nil {
		tb.Fatal(err)
	}
	var head [5]byte
	for {
		if _, err := io.ReadFull(c.r, head[:]); err != nil {
			tb.Fatal(err)
		}
		n := int(binary.BigEndian.Uint32(head[1:])) - 4
		if head[0] == 'E' {
			body := make([]byte, n)
			io.ReadFull(c.r, body)
			tb.Fatalf("server error: %q", body)
		}
		if _, err := c.r.Discard(n); err != nil {
			tb.Fatal(err)
		}
		if head[0] == 'Z' {
			return
		}
	}
}

func encode(tb testing.TB, msgs ...pgproto3.FrontendMessage) []byte {
	var buf []byte
	for _, m := range msgs {
		var err error
		if buf, err = m.Encode(buf); err != nil {
			tb.Fatal(err)
		}
	}
	return buf
}

// BenchmarkPointSelect is pgbench -S through the router, one client, in
// each protocol mode: the time and the router's allocations per
// statement (allocs/op counts the whole process, and the client here
// allocates nothing).
func BenchmarkPointSelect(b *testing.B) {
	id := keyOn(b, "s0")
	if _, err := connect(b).Exec(ctxT(b), "INSERT INTO customers (id, name) VALUES ($1, 'bench')", id); err != nil {
		b.Fatal(err)
	}
	replicasCaughtUp(b)
	param := []byte(fmt.Sprint(id))
	b.Run("simple", func(b *testing.B) {
		c := newRawClient(b)
		msg := encode(b, &pgproto3.Query{String: fmt.Sprintf("SELECT name FROM customers WHERE id = %d", id)})
		runRaw(b, c, msg)
	})
	b.Run("extended", func(b *testing.B) {
		c := newRawClient(b)
		msg := encode(b, &pgproto3.Parse{Query: "SELECT name FROM customers WHERE id = $1", ParameterOIDs: []uint32{20}},
			&pgproto3.Bind{Parameters: [][]byte{param}}, &pgproto3.Describe{ObjectType: 'P'},
			&pgproto3.Execute{}, &pgproto3.Sync{})
		runRaw(b, c, msg)
	})
	b.Run("prepared", func(b *testing.B) {
		c := newRawClient(b)
		c.roundTrip(b, encode(b, &pgproto3.Parse{Name: "p", Query: "SELECT name FROM customers WHERE id = $1", ParameterOIDs: []uint32{20}}, &pgproto3.Sync{}))
		msg := encode(b, &pgproto3.Bind{PreparedStatement: "p", Parameters: [][]byte{param}}, &pgproto3.Execute{}, &pgproto3.Sync{})
		runRaw(b, c, msg)
	})
}

func runRaw(b *testing.B, c *rawClient, msg []byte) {
	for range 20 { // warm the caches and the connection
		c.roundTrip(b, msg)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.roundTrip(b, msg)
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "router-allocs/op")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N), "router-B/op")
}

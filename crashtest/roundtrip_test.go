package crashtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// turnProxy forwards TCP connections to a PostgreSQL server and counts
// round trips on the sessions whose startup message carries its
// application_name: a round trip is each time the client sends after it
// last heard from the server. Other sessions (the router's replica
// tracker, recovery) pass uncounted.
type turnProxy struct {
	ln     net.Listener
	target string
	app    []byte
	turns  atomic.Int64
	wg     sync.WaitGroup
}

// startTurnProxy listens on a free port until the test ends.
func startTurnProxy(t testing.TB, target, application string) *turnProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &turnProxy{ln: ln, target: target, app: []byte("application_name\x00" + application + "\x00")}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

// DSN is the connection string of the server through the proxy.
func (p *turnProxy) DSN() string {
	return fmt.Sprintf("postgres://postgres@%s/app?sslmode=disable", p.ln.Addr())
}

func (p *turnProxy) serve() {
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		conns.Go(func() { p.relay(client) })
	}
}

// relay copies one connection both ways, counting its round trips when
// its startup message names the application.
func (p *turnProxy) relay(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	var size [4]byte
	if _, err := io.ReadFull(client, size[:]); err != nil {
		return
	}
	startup := make([]byte, binary.BigEndian.Uint32(size[:]))
	copy(startup, size[:])
	if _, err := io.ReadFull(client, startup[4:]); err != nil {
		return
	}
	counted := bytes.Contains(startup, p.app)
	if _, err := server.Write(startup); err != nil {
		return
	}
	var clientSpoke atomic.Bool // the client sent last
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				clientSpoke.Store(false)
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				client.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			if counted && !clientSpoke.Swap(true) {
				p.turns.Add(1)
			}
			if _, werr := server.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	server.Close()
	<-done
}

// roundTrips is a router whose backend sessions to s0's primary go
// through a turnProxy, so that the round trips it makes there can be
// compared with a client's straight to the same server.
type roundTrips struct {
	proxy  *turnProxy
	router *routerProc
	item   int64 // an item on s0
}

// application marks the sessions the proxy counts.
const application = "roundtrips"

func newRoundTrips(t testing.TB) *roundTrips {
	t.Helper()
	setup(t)
	ctx := testContext(t, time.Minute)
	proxy := startTurnProxy(t, fmt.Sprintf("127.0.0.1:%d", dep.Clusters[0].Primary.Port()), application)
	const key = "/crashtest/roundtrips/shardmap"
	if _, err := shardmap.Apply(ctx, etcdCli, key, shardMapWith(proxy.DSN())); err != nil {
		t.Fatal(err)
	}
	r := startRouter(t, routerOptions{ID: "rt", MapKey: key})
	return &roundTrips{proxy: proxy, router: r, item: createItems(t, r).on["s0"][0]}
}

// connect opens a session marked for counting.
func (rt *roundTrips) connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	c, err := pgx.Connect(ctx, dsn+sep+"application_name="+application)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// transaction is the measured single-shard transaction.
func (rt *roundTrips) transaction(ctx context.Context, t testing.TB, c *pgx.Conn) {
	for _, sql := range []string{"BEGIN", "UPDATE items SET v = v + 1 WHERE id = $1", "COMMIT"} {
		var args []any
		if strings.Contains(sql, "$1") {
			args = []any{rt.item}
		}
		if _, err := c.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// perTransaction runs n transactions through c after a warm-up one and
// returns the round trips s0's primary saw per transaction.
func (rt *roundTrips) perTransaction(ctx context.Context, t testing.TB, c *pgx.Conn, n int) float64 {
	rt.transaction(ctx, t, c)
	before := rt.proxy.turns.Load()
	for range n {
		rt.transaction(ctx, t, c)
	}
	return float64(rt.proxy.turns.Load()-before) / float64(n)
}

// A transaction on one cluster through the router costs that cluster's
// primary no more round trips than the same transaction sent to it
// directly: the router sends BEGIN with the first statement.
func TestSingleShardTransactionRoundTrips(t *testing.T) {
	rt := newRoundTrips(t)
	ctx := testContext(t, time.Minute)
	direct := rt.perTransaction(ctx, t, rt.connect(t, rt.proxy.DSN()), 20)
	routed := rt.perTransaction(ctx, t, rt.connect(t, rt.router.DSN()), 20)
	t.Logf("round trips to the primary per BEGIN; UPDATE; COMMIT: %.2f from a client directly, %.2f from the router", direct, routed)
	if direct < 3 {
		t.Fatalf("the proxy counted %.2f round trips per direct transaction, want at least 3: it does not count", direct)
	}
	if routed > direct {
		t.Errorf("the router makes %.2f round trips to the primary per transaction, the client alone %.2f", routed, direct)
	}
}

// BenchmarkSingleShardTransaction runs BEGIN; UPDATE one row; COMMIT with
// pgx straight to s0's primary and through the router, reporting the
// round trips the primary sees per transaction (shard-rt/op).
func BenchmarkSingleShardTransaction(b *testing.B) {
	rt := newRoundTrips(b)
	for _, tc := range []struct{ name, dsn string }{{"direct", rt.proxy.DSN()}, {"router", rt.router.DSN()}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := testContext(b, 10*time.Minute)
			c := rt.connect(b, tc.dsn)
			rt.transaction(ctx, b, c)
			before := rt.proxy.turns.Load()
			n := 0
			for b.Loop() {
				rt.transaction(ctx, b, c)
				n++
			}
			b.ReportMetric(float64(rt.proxy.turns.Load()-before)/float64(n), "shard-rt/op")
		})
	}
}

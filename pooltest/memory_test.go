package pooltest

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// idleClient logs in over a raw socket and stays connected, holding as
// little memory on the client side as possible.
func idleClient(tb testing.TB) net.Conn {
	tb.Helper()
	nc, err := net.DialTimeout("tcp", stack.Router.Addr(), 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	msg, _ := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "app", "database": "app"}}).Encode(nil)
	if _, err := nc.Write(msg); err != nil {
		tb.Fatal(err)
	}
	r := bufio.NewReaderSize(nc, 512)
	for {
		var head [5]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			tb.Fatal(err)
		}
		if _, err := r.Discard(int(binary.BigEndian.Uint32(head[1:])) - 4); err != nil {
			tb.Fatal(err)
		}
		switch head[0] {
		case 'Z':
			return nc
		case 'E':
			tb.Fatal("login refused")
		}
	}
}

// routerMemory is the process's heap and stacks in use, after a GC.
func routerMemory() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// BenchmarkIdleClientMemory reports the memory the router holds per idle
// client connection (heap and goroutine stacks of this process, which
// runs the router; the clients here are bare sockets).
//
//	go test ./pooltest -run '^$' -bench IdleClientMemory -benchtime 2000x
func BenchmarkIdleClientMemory(b *testing.B) {
	before := routerMemory()
	conns := make([]net.Conn, 0, b.N)
	for range b.N {
		conns = append(conns, idleClient(b))
	}
	time.Sleep(100 * time.Millisecond)
	after := routerMemory()
	b.StopTimer()
	for _, c := range conns {
		c.Close()
	}
	b.ReportMetric(float64(after-before)/float64(b.N), "bytes/client")
	if n := routerBackends(b, "s0"); n > connsPerNode {
		b.Errorf("%d idle clients hold %d backend sessions", b.N, n)
	}
}

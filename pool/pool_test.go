package pool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeConn stands in for a server connection: the pool only closes and
// checks them.
type fakeConn struct {
	id     int
	dead   atomic.Bool
	closed atomic.Bool
}

func (c *fakeConn) Close() error { c.closed.Store(true); return nil }
func (c *fakeConn) Alive() bool  { return !c.dead.Load() && !c.closed.Load() }

type fakeServer struct {
	mu       sync.Mutex
	dialed   []*fakeConn
	failing  bool
	resets   atomic.Int64
	resetErr error
}

func (f *fakeServer) connect(ctx context.Context, key Key) (*fakeConn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing {
		return nil, errors.New("connection refused")
	}
	c := &fakeConn{id: len(f.dialed) + 1}
	f.dialed = append(f.dialed, c)
	return c, nil
}

func (f *fakeServer) reset(ctx context.Context, c *fakeConn) error {
	f.resets.Add(1)
	return f.resetErr
}

func (f *fakeServer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.dialed)
}

func newTestPool(t *testing.T, opts Options) (*Pool[*fakeConn], *fakeServer) {
	f := &fakeServer{}
	p := New(f.connect, f.reset, opts)
	t.Cleanup(p.Close)
	return p, f
}

var keyA = Key{Cluster: "s0", URL: "postgres://a", User: "app"}
var keyB = Key{Cluster: "s0", URL: "postgres://a", User: "other"}

func acquire(t *testing.T, p *Pool[*fakeConn], key Key) *Entry[*fakeConn] {
	t.Helper()
	e, err := p.Acquire(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func stats(p *Pool[*fakeConn]) NodeStats {
	for _, s := range p.Stats() {
		if s.URL == keyA.URL {
			return s
		}
	}
	return NodeStats{}
}

// A released connection serves the next session; nothing new is dialed.
func TestReuse(t *testing.T) {
	p, f := newTestPool(t, Options{})
	e := acquire(t, p, keyA)
	if !e.Fresh {
		t.Error("the first lease of a new connection is not Fresh")
	}
	p.Release(e, Clean)
	e2 := acquire(t, p, keyA)
	if e2 != e || e2.Fresh || f.count() != 1 {
		t.Errorf("second lease: same=%v fresh=%v dialed=%d", e2 == e, e2.Fresh, f.count())
	}
	p.Release(e2, Clean)
	if s := stats(p); s.Open != 1 || s.Idle != 1 || s.InUse != 0 || s.Acquired != 2 {
		t.Errorf("stats %+v", s)
	}
}

// At the cap a session waits for the next release, and gets that very
// connection.
func TestWaitForRelease(t *testing.T) {
	p, f := newTestPool(t, Options{MaxPerNode: 2})
	a, b := acquire(t, p, keyA), acquire(t, p, keyA)
	got := make(chan *Entry[*fakeConn])
	go func() {
		e, err := p.Acquire(context.Background(), keyA)
		if err != nil {
			t.Error(err)
		}
		got <- e
	}()
	waitFor(t, func() bool { return stats(p).Waiting == 1 })
	p.Release(b, Clean)
	if e := <-got; e != b {
		t.Errorf("the waiter got %v, want the released connection", e)
	}
	if f.count() != 2 {
		t.Errorf("dialed %d, want 2", f.count())
	}
	p.Release(a, Clean)
}

// A session that waits too long, or finds the queue full, gets an error.
func TestTimeoutAndFullQueue(t *testing.T) {
	p, _ := newTestPool(t, Options{MaxPerNode: 1, MaxWaiters: 1, AcquireTimeout: 50 * time.Millisecond})
	held := acquire(t, p, keyA)
	errc := make(chan error)
	go func() {
		_, err := p.Acquire(context.Background(), keyA)
		errc <- err
	}()
	waitFor(t, func() bool { return stats(p).Waiting == 1 })
	if _, err := p.Acquire(context.Background(), keyA); !errors.Is(err, ErrTooManyWaiters) {
		t.Errorf("second waiter: %v, want ErrTooManyWaiters", err)
	}
	if err := <-errc; !errors.Is(err, ErrTimeout) {
		t.Errorf("waiter: %v, want ErrTimeout", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Acquire(ctx, keyA); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
	p.Release(held, Clean)
	if s := stats(p); s.Waiting != 0 || s.Timeouts != 2 || s.Refused != 1 {
		t.Errorf("stats %+v", s)
	}
}

// An idle connection that died is dropped, and a new one dialed.
func TestDeadIdleConnection(t *testing.T) {
	p, f := newTestPool(t, Options{})
	e := acquire(t, p, keyA)
	p.Release(e, Clean)
	e.Conn.dead.Store(true)
	e2 := acquire(t, p, keyA)
	if e2 == e || !e.Conn.closed.Load() || f.count() != 2 {
		t.Errorf("dead connection reused=%v closed=%v dialed=%d", e2 == e, e.Conn.closed.Load(), f.count())
	}
	if s := stats(p); s.ClosedDead != 1 || s.Open != 1 {
		t.Errorf("stats %+v", s)
	}
}

// A dirty connection is reset before its next lease; one whose reset
// fails is closed; a broken one is closed and frees its slot.
func TestDirtyAndBroken(t *testing.T) {
	p, f := newTestPool(t, Options{MaxPerNode: 1})
	e := acquire(t, p, keyA)
	p.Release(e, Dirty)
	e2 := acquire(t, p, keyA) // waits for the reset to finish
	if e2 != e || f.resets.Load() != 1 {
		t.Errorf("after reset: same=%v resets=%d", e2 == e, f.resets.Load())
	}
	f.resetErr = errors.New("reset failed")
	p.Release(e2, Dirty)
	e3 := acquire(t, p, keyA)
	if e3 == e || !e.Conn.closed.Load() {
		t.Error("a connection whose reset failed was reused")
	}
	p.Release(e3, Broken)
	if !e3.Conn.closed.Load() {
		t.Error("a broken connection was not closed")
	}
	e4 := acquire(t, p, keyA)
	if e4 == e3 || f.count() != 3 {
		t.Errorf("after a broken release: dialed %d", f.count())
	}
	p.Release(e4, Clean)
}

// A node at its cap with idle connections of another key closes one of
// them to serve the new key.
func TestEvictOtherKey(t *testing.T) {
	p, _ := newTestPool(t, Options{MaxPerNode: 1})
	a := acquire(t, p, keyA)
	p.Release(a, Clean)
	b := acquire(t, p, keyB)
	if b.Key() != keyB || !b.Fresh {
		t.Errorf("got key %+v fresh=%v", b.Key(), b.Fresh)
	}
	waitFor(t, a.Conn.closed.Load)
	// And a waiter of key A is served when B comes back idle.
	got := make(chan *Entry[*fakeConn])
	go func() { e, _ := p.Acquire(context.Background(), keyA); got <- e }()
	waitFor(t, func() bool { return stats(p).Waiting == 1 })
	p.Release(b, Clean)
	if e := <-got; e == nil || e.Key() != keyA {
		t.Errorf("waiter of another key got %+v", e)
	} else {
		p.Release(e, Clean)
	}
}

// Idle connections are closed after the idle timeout, and connections
// past their lifetime when released.
func TestExpiry(t *testing.T) {
	p, _ := newTestPool(t, Options{IdleTimeout: 20 * time.Millisecond})
	e := acquire(t, p, keyA)
	p.Release(e, Clean)
	waitFor(t, e.Conn.closed.Load)
	if s := stats(p); s.Open != 0 || s.Expired != 1 {
		t.Errorf("stats %+v", s)
	}
	p2, _ := newTestPool(t, Options{MaxLifetime: time.Nanosecond})
	e = acquire(t, p2, keyA)
	time.Sleep(time.Millisecond)
	p2.Release(e, Clean)
	if !e.Conn.closed.Load() {
		t.Error("a connection past its lifetime went back to the pool")
	}
}

// A failed dial frees its slot for the next session.
func TestDialError(t *testing.T) {
	p, f := newTestPool(t, Options{MaxPerNode: 1})
	f.failing = true
	if _, err := p.Acquire(context.Background(), keyA); err == nil {
		t.Fatal("dial error not reported")
	}
	f.failing = false
	p.Release(acquire(t, p, keyA), Clean)
	if s := stats(p); s.Open != 1 || s.DialErrors != 1 {
		t.Errorf("stats %+v", s)
	}
}

// After Close, idle connections are closed, Acquire fails and released
// connections are closed.
func TestClose(t *testing.T) {
	f := &fakeServer{}
	p := New(f.connect, f.reset, Options{})
	idle, held := acquire(t, p, keyA), acquire(t, p, keyA)
	p.Release(idle, Clean)
	p.Close()
	if !idle.Conn.closed.Load() {
		t.Error("idle connection left open")
	}
	if _, err := p.Acquire(context.Background(), keyA); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close: %v", err)
	}
	p.Release(held, Clean)
	if !held.Conn.closed.Load() {
		t.Error("connection released after Close left open")
	}
}

// Many sessions at once never exceed the cap, and everything comes back.
func TestConcurrentCap(t *testing.T) {
	const max = 4
	p, f := newTestPool(t, Options{MaxPerNode: max, AcquireTimeout: 10 * time.Second})
	var inUse, peak atomic.Int64
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 200 {
				key := keyA
				if (g+i)%5 == 0 {
					key = keyB
				}
				e, err := p.Acquire(context.Background(), key)
				if err != nil {
					t.Error(err)
					return
				}
				n := inUse.Add(1)
				for {
					old := peak.Load()
					if n <= old || peak.CompareAndSwap(old, n) {
						break
					}
				}
				inUse.Add(-1)
				how := Clean
				if i%17 == 0 {
					how = Broken
				}
				p.Release(e, how)
			}
		})
	}
	wg.Wait()
	if peak.Load() > max {
		t.Errorf("%d connections in use at once, cap %d", peak.Load(), max)
	}
	s := stats(p)
	if s.InUse != 0 || s.Open != s.Idle || s.Open > max || s.Waiting != 0 {
		t.Errorf("after the storm: %+v", s)
	}
	t.Logf("dialed %d connections for 6400 leases: %+v", f.count(), s)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkAcquireRelease is the pool's cost on the hot path: a lease
// and its release with an idle connection at hand.
func BenchmarkAcquireRelease(b *testing.B) {
	f := &fakeServer{}
	p := New(f.connect, f.reset, Options{})
	defer p.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		e, err := p.Acquire(ctx, keyA)
		if err != nil {
			b.Fatal(err)
		}
		p.Release(e, Clean)
	}
}

package replication

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// fakeNet stands in for the PostgreSQL servers: each node's answers are
// set by the test, and every probe is logged.
type fakeNet struct {
	mu    sync.Mutex
	nodes map[string]*fakeNode // by URL
}

// fakeNode is one fake server.
type fakeNode struct {
	lsn  LSN   // what a check returns
	err  error // when set, checks fail with it
	gate chan struct{}
	// catchUpAt, when non-zero, makes the node's lsn catchUpLSN from its
	// catchUpAt-th probe on.
	catchUpAt  int
	catchUpLSN LSN
	delay      time.Duration

	probes      int
	inFlight    int
	maxInFlight int
	closes      int
	probers     int
	started     chan int // probe numbers, as they start (buffered)
}

func newFakeNet() *fakeNet { return &fakeNet{nodes: map[string]*fakeNode{}} }

// node returns the fake server of a URL, making it on first use.
func (f *fakeNet) node(url string) *fakeNode {
	n := f.nodes[url]
	if n == nil {
		n = &fakeNode{started: make(chan int, 1000)}
		f.nodes[url] = n
	}
	return n
}

// set changes a fake server under the lock.
func (f *fakeNet) set(url string, change func(n *fakeNode)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f.node(url))
}

// get reads a fake server under the lock.
func (f *fakeNet) get(url string, read func(n *fakeNode)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	read(f.node(url))
}

// install makes t check nodes through f.
func (f *fakeNet) install(t *Tracker) {
	t.newProber = func(n Node) prober {
		f.set(n.URL, func(fn *fakeNode) { fn.probers++ })
		return &fakeProber{net: f, node: n}
	}
}

type fakeProber struct {
	net  *fakeNet
	node Node
}

func (p *fakeProber) probe(ctx context.Context) (observation, error) {
	f := p.net
	f.mu.Lock()
	n := f.node(p.node.URL)
	n.probes++
	n.inFlight++
	n.maxInFlight = max(n.maxInFlight, n.inFlight)
	if n.catchUpAt != 0 && n.probes >= n.catchUpAt {
		n.lsn = n.catchUpLSN
	}
	num, lsn, err, gate, delay := n.probes, n.lsn, n.err, n.gate, n.delay
	n.started <- num
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		n.inFlight--
		f.mu.Unlock()
	}()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return observation{}, ctx.Err()
		}
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return observation{}, ctx.Err()
		}
	}
	if err != nil {
		return observation{}, fmt.Errorf("fake %s: %w", p.node.URL, err)
	}
	return observation{lsn: lsn, receiveLSN: lsn, inRecovery: !p.node.Primary, replayAge: -1}, nil
}

func (p *fakeProber) close() {
	p.net.set(p.node.URL, func(n *fakeNode) { n.closes++ })
}

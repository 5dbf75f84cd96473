// Package pool keeps backend connections for reuse across client sessions.
//
// A Pool holds, per PostgreSQL server (a node), the open connections of
// every Key that names it, and caps how many a node may have: a session
// that needs one more waits in a bounded queue until a connection is
// released or a slot frees up. Idle connections are checked before they
// are handed out (a server that went away, or said something nobody
// asked for, is dropped), and closed after an idle timeout or a maximum
// lifetime. A connection released Dirty (its session changed state that
// cannot be replayed) is reset before anyone else gets it.
//
// The pool does not know what a connection is for: the executor decides
// when a session gives its connections back (at the end of each
// transaction in transaction pooling, at the end of the session in
// session pooling).
package pool

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Conn is what a Pool manages (a *backend.Conn).
type Conn interface {
	// Close closes the connection; twice is harmless.
	Close() error
	// Alive reports, without blocking, whether the connection can be
	// used: it is open and the server sent nothing unasked.
	Alive() bool
}

// Key names the connections that may serve one another's sessions: the
// node (its URL in the shard map) and the login used there.
type Key struct {
	Cluster string
	URL     string
	User    string
}

// Connector opens a new connection for key.
type Connector[C Conn] func(ctx context.Context, key Key) (C, error)

// Resetter brings a dirty connection back to a clean session state
// (DISCARD ALL); a failure closes the connection.
type Resetter[C Conn] func(ctx context.Context, c C) error

// Options tune a Pool. Zero values take the defaults.
type Options struct {
	// MaxPerNode caps the connections to one server, over every key
	// (default 100).
	MaxPerNode int
	// AcquireTimeout is how long Acquire waits for a connection when the
	// node is at its cap (default 5 s).
	AcquireTimeout time.Duration
	// MaxWaiters caps the sessions waiting for one node (default 1000);
	// beyond it Acquire fails at once.
	MaxWaiters int
	// IdleTimeout closes connections idle this long (default 5 min).
	IdleTimeout time.Duration
	// MaxLifetime closes connections this old when they are released
	// (default 1 h).
	MaxLifetime time.Duration
	// ResetTimeout bounds a reset (default 5 s).
	ResetTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxPerNode <= 0 {
		o.MaxPerNode = 100
	}
	if o.AcquireTimeout <= 0 {
		o.AcquireTimeout = 5 * time.Second
	}
	if o.MaxWaiters <= 0 {
		o.MaxWaiters = 1000
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 5 * time.Minute
	}
	if o.MaxLifetime <= 0 {
		o.MaxLifetime = time.Hour
	}
	if o.ResetTimeout <= 0 {
		o.ResetTimeout = 5 * time.Second
	}
	return o
}

// ErrTimeout is returned when no connection freed up within
// AcquireTimeout, ErrTooManyWaiters when the queue is full, ErrClosed
// after Close.
var (
	ErrTimeout        = errors.New("no connection to the server became free in time")
	ErrTooManyWaiters = errors.New("too many sessions are waiting for a connection to the server")
	ErrClosed         = errors.New("the connection pool is closed")
)

// Release says what state a connection comes back in.
type Release int

const (
	// Clean: idle, in no transaction, with no session state the next
	// user could see.
	Clean Release = iota
	// Dirty: usable, but it must be reset before anyone else gets it.
	Dirty
	// Broken: close it.
	Broken
)

// Entry is one pooled connection. Its Conn is the caller's between
// Acquire and Release.
type Entry[C Conn] struct {
	Conn C
	// Fresh is true on the first lease of a new connection.
	Fresh   bool
	key     Key
	created time.Time
	idle    time.Time
}

// Key is the entry's key.
func (e *Entry[C]) Key() Key { return e.key }

// Pool is a set of connection pools, one per key, with a cap per node.
// Safe for concurrent use.
type Pool[C Conn] struct {
	connect Connector[C]
	reset   Resetter[C]
	opts    Options

	mu     sync.Mutex
	nodes  map[string]*node[C]
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

// node is the state of one server.
type node[C Conn] struct {
	url     string
	open    int // connections open or being opened
	leased  int
	idle    map[Key][]*Entry[C] // most recently used last
	waiters []*waiter[C]
	stats   counters
}

// waiter is a session waiting for a connection of key.
type waiter[C Conn] struct {
	key Key
	// ready receives an entry handed over, or nil: a slot freed up and
	// the waiter may dial.
	ready chan *Entry[C]
}

// New makes a pool. reset may be nil: dirty connections are then closed.
func New[C Conn](connect Connector[C], reset Resetter[C], opts Options) *Pool[C] {
	p := &Pool[C]{connect: connect, reset: reset, opts: opts.withDefaults(), nodes: map[string]*node[C]{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go p.reap()
	return p
}

func (p *Pool[C]) node(url string) *node[C] {
	n := p.nodes[url]
	if n == nil {
		n = &node[C]{url: url, idle: map[Key][]*Entry[C]{}}
		p.nodes[url] = n
	}
	return n
}

// Acquire returns a connection for key: an idle one that is still alive,
// else a new one when the node is under its cap, else the first to be
// released or freed within AcquireTimeout.
func (p *Pool[C]) Acquire(ctx context.Context, key Key) (*Entry[C], error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	n := p.node(key.URL)
	for {
		e := n.popIdle(key)
		if e == nil {
			break
		}
		// Checking is a non-blocking read: cheap enough to do under the
		// lock, and it keeps dead connections from being handed out.
		if e.Conn.Alive() {
			n.leased++
			n.stats.acquired++
			p.mu.Unlock()
			e.Fresh = false
			return e, nil
		}
		n.open--
		n.stats.closedDead++
		p.handOff(n)
		p.mu.Unlock()
		e.Conn.Close()
		p.mu.Lock()
	}
	if n.open >= p.opts.MaxPerNode && n.evictIdle() {
		n.open--
	}
	if n.open < p.opts.MaxPerNode {
		n.open++
		n.leased++
		n.stats.acquired++
		p.mu.Unlock()
		return p.dial(ctx, n, key)
	}
	if len(n.waiters) >= p.opts.MaxWaiters {
		n.stats.refused++
		p.mu.Unlock()
		return nil, ErrTooManyWaiters
	}
	w := &waiter[C]{key: key, ready: make(chan *Entry[C], 1)}
	n.waiters = append(n.waiters, w)
	n.stats.waited++
	p.mu.Unlock()
	return p.wait(ctx, n, w)
}

// wait blocks until w is served, ctx ends or AcquireTimeout passes.
func (p *Pool[C]) wait(ctx context.Context, n *node[C], w *waiter[C]) (*Entry[C], error) {
	timer := time.NewTimer(p.opts.AcquireTimeout)
	defer timer.Stop()
	var err error
	select {
	case e := <-w.ready:
		return p.served(ctx, n, w.key, e)
	case <-timer.C:
		err = ErrTimeout
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.mu.Lock()
	if n.removeWaiter(w) {
		n.stats.timeouts++
		p.mu.Unlock()
		return nil, err
	}
	p.mu.Unlock()
	// Served as we gave up: take it anyway, the caller will release it.
	return p.served(ctx, n, w.key, <-w.ready)
}

// served finishes a wait: an entry handed over, or a slot to dial in.
func (p *Pool[C]) served(ctx context.Context, n *node[C], key Key, e *Entry[C]) (*Entry[C], error) {
	if e != nil {
		e.Fresh = false
		return e, nil
	}
	return p.dial(ctx, n, key)
}

// dial opens a connection in a slot already counted as open and leased.
func (p *Pool[C]) dial(ctx context.Context, n *node[C], key Key) (*Entry[C], error) {
	c, err := p.connect(ctx, key)
	if err != nil {
		p.mu.Lock()
		n.open--
		n.leased--
		n.stats.dialErrors++
		p.handOff(n)
		p.mu.Unlock()
		return nil, err
	}
	now := time.Now()
	p.mu.Lock()
	n.stats.dialed++
	p.mu.Unlock()
	return &Entry[C]{Conn: c, Fresh: true, key: key, created: now}, nil
}

// Release gives a connection back.
func (p *Pool[C]) Release(e *Entry[C], how Release) {
	now := time.Now()
	if how == Clean && now.Sub(e.created) > p.opts.MaxLifetime {
		how = Broken
	}
	if how == Dirty && p.reset == nil {
		how = Broken
	}
	switch how {
	case Broken:
		e.Conn.Close()
		p.mu.Lock()
		n := p.node(e.key.URL)
		n.open--
		n.leased--
		p.handOff(n)
		p.mu.Unlock()
	case Dirty:
		go p.resetThenRelease(e)
	default:
		p.putBack(e, now)
	}
}

// resetThenRelease resets a dirty connection, then releases it clean.
func (p *Pool[C]) resetThenRelease(e *Entry[C]) {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.ResetTimeout)
	err := p.reset(ctx, e.Conn)
	cancel()
	how := Clean
	if err != nil {
		how = Broken
	}
	p.mu.Lock()
	p.node(e.key.URL).stats.resets++
	p.mu.Unlock()
	p.Release(e, how)
}

// putBack makes a clean connection idle, or hands it to a waiter.
func (p *Pool[C]) putBack(e *Entry[C], now time.Time) {
	p.mu.Lock()
	n := p.node(e.key.URL)
	if p.closed {
		n.open--
		n.leased--
		p.mu.Unlock()
		e.Conn.Close()
		return
	}
	for i, w := range n.waiters {
		if w.key == e.key {
			n.waiters = append(n.waiters[:i], n.waiters[i+1:]...)
			n.stats.acquired++
			p.mu.Unlock()
			w.ready <- e // still leased, by the waiter now
			return
		}
	}
	n.leased--
	e.idle = now
	n.idle[e.key] = append(n.idle[e.key], e)
	if len(n.waiters) > 0 && n.evictIdle() {
		// A waiter wants another key: make room for it.
		n.open--
		p.handOff(n)
	}
	p.mu.Unlock()
}

// handOff lets the first waiter dial in a freed slot. Called with p.mu
// held, after n.open went down.
func (p *Pool[C]) handOff(n *node[C]) {
	if len(n.waiters) == 0 || n.open >= p.opts.MaxPerNode {
		return
	}
	w := n.waiters[0]
	n.waiters = n.waiters[1:]
	n.open++
	n.leased++
	n.stats.acquired++
	w.ready <- nil
}

// popIdle takes the most recently used idle connection of key.
func (n *node[C]) popIdle(key Key) *Entry[C] {
	list := n.idle[key]
	if len(list) == 0 {
		return nil
	}
	e := list[len(list)-1]
	list[len(list)-1] = nil
	n.idle[key] = list[:len(list)-1]
	return e
}

// evictIdle closes the oldest idle connection of any key, to make room
// for another key; it reports whether one was closed. Called with the
// pool's lock held; the close itself happens on another goroutine.
func (n *node[C]) evictIdle() bool {
	var oldest *Entry[C]
	for _, list := range n.idle {
		if len(list) > 0 && (oldest == nil || list[0].idle.Before(oldest.idle)) {
			oldest = list[0]
		}
	}
	if oldest == nil {
		return false
	}
	list := n.idle[oldest.key]
	n.idle[oldest.key] = append(list[:0], list[1:]...)
	n.stats.evicted++
	go oldest.Conn.Close()
	return true
}

func (n *node[C]) removeWaiter(w *waiter[C]) bool {
	for i, x := range n.waiters {
		if x == w {
			n.waiters = append(n.waiters[:i], n.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// reap closes idle connections past their idle timeout or lifetime.
func (p *Pool[C]) reap() {
	defer close(p.done)
	every := min(p.opts.IdleTimeout, p.opts.MaxLifetime) / 4
	every = max(every, 10*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case now := <-t.C:
			p.reapOnce(now)
		}
	}
}

func (p *Pool[C]) reapOnce(now time.Time) {
	var stale []*Entry[C]
	p.mu.Lock()
	for _, n := range p.nodes {
		closed := 0
		for key, list := range n.idle {
			keep := list[:0]
			for _, e := range list {
				if now.Sub(e.idle) > p.opts.IdleTimeout || now.Sub(e.created) > p.opts.MaxLifetime {
					stale = append(stale, e)
					closed++
					continue
				}
				keep = append(keep, e)
			}
			clear(list[len(keep):])
			n.idle[key] = keep
		}
		n.open -= closed
		n.stats.expired += int64(closed)
		for range closed {
			p.handOff(n)
		}
	}
	p.mu.Unlock()
	for _, e := range stale {
		e.Conn.Close()
	}
}

// Close closes every idle connection and makes later Acquires fail;
// leased connections are closed when released.
func (p *Pool[C]) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	var idle []*Entry[C]
	for _, n := range p.nodes {
		for _, list := range n.idle {
			idle = append(idle, list...)
			n.open -= len(list)
		}
		clear(n.idle)
	}
	p.mu.Unlock()
	close(p.stop)
	<-p.done
	for _, e := range idle {
		e.Conn.Close()
	}
}

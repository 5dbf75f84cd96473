package breaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"
)

// State is a breaker's state.
type State int

const (
	// Closed lets connections through.
	Closed State = iota
	// HalfOpen refuses connections while a probe runs.
	HalfOpen
	// Open refuses connections until the cool-down has passed.
	Open
)

// String is the state's name in logs, metrics and SHOW sqlrouter.clusters.
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// ErrOpen is wrapped by the error of Allow while a breaker is open or
// half-open.
var ErrOpen = errors.New("circuit breaker open")

// Options configure a Set. The zero value opens after 5 failures and
// probes after 5 s, without a probe function (only a successful
// connection closes a breaker then).
type Options struct {
	// Threshold is the number of failures in a row that opens a breaker
	// (default 5).
	Threshold int
	// Cooldown is how long a breaker stays open before its probe (default
	// 5 s).
	Cooldown time.Duration
	// Probe checks a server in the half-open state (connect and close); a
	// nil error closes the breaker.
	Probe func(ctx context.Context, cluster, url string) error
	// OnChange hears every change of state, after it happened. It must
	// not call the Set.
	OnChange func(cluster, url string, from, to State)
	// Name turns a URL into the name logs show (credentials stripped);
	// nil shows "?".
	Name func(url string) string
	// Logger receives openings (Warn) and closings (Info); nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Threshold <= 0 {
		o.Threshold = 5
	}
	if o.Cooldown <= 0 {
		o.Cooldown = 5 * time.Second
	}
	if o.Name == nil {
		o.Name = func(string) string { return "?" }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Set is the breakers of every server. Safe for concurrent use.
type Set struct {
	opts Options

	mu    sync.Mutex
	nodes map[string]*node // by URL
	wg    sync.WaitGroup   // probes in flight
}

// node is one server's breaker.
type node struct {
	cluster, url string
	state        State
	failures     int
	lastErr      error
	openedAt     time.Time
	retryAt      time.Time
	opens        int64
}

// New makes a Set of closed breakers.
func New(opts Options) *Set {
	return &Set{opts: opts.withDefaults(), nodes: map[string]*node{}}
}

// NodeStatus is one breaker's state, for metrics and admin views.
type NodeStatus struct {
	Cluster, URL string
	State        State
	// Failures is the number of failures in a row.
	Failures int
	// LastError is the last failure since the last success.
	LastError error
	// OpenedAt is when the breaker last opened (zero: never).
	OpenedAt time.Time
	// Opens counts the times the breaker opened.
	Opens int64
}

// Allow reports whether a connection to the server at url may be tried:
// nil, or an error wrapping ErrOpen that says since when and why.
func (s *Set) Allow(url string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodes[url]
	if n == nil || n.state == Closed {
		return nil
	}
	wait := max(n.retryAt.Sub(s.opts.Now()), 0).Round(time.Millisecond)
	return fmt.Errorf("%w for %s after %d failures in a row (last: %v); next probe in %s",
		ErrOpen, s.opts.Name(url), n.failures, n.lastErr, wait)
}

// State returns the state of the server's breaker.
func (s *Set) State(url string) State {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.nodes[url]; n != nil {
		return n.state
	}
	return Closed
}

// Success records a successful connection: the breaker closes.
func (s *Set) Success(cluster, url string) {
	s.mu.Lock()
	n := s.nodes[url]
	if n == nil || (n.state == Closed && n.failures == 0) {
		s.mu.Unlock()
		return
	}
	from := n.state
	n.state, n.failures, n.lastErr = Closed, 0, nil
	s.mu.Unlock()
	if from != Closed {
		s.opts.Logger.Info("circuit breaker closed", "cluster", cluster, "node", s.opts.Name(url))
		s.changed(cluster, url, from, Closed)
	}
}

// Failure records a failed connection or a connection lost to an I/O
// error; the Threshold-th in a row opens the breaker.
func (s *Set) Failure(cluster, url string, err error) {
	s.mu.Lock()
	n := s.node(cluster, url)
	n.failures++
	n.lastErr = err
	if n.state != Closed || n.failures < s.opts.Threshold {
		s.mu.Unlock()
		return
	}
	s.open(n)
	failures := n.failures
	s.mu.Unlock()
	s.opts.Logger.Warn("circuit breaker opened", "cluster", cluster, "node", s.opts.Name(url),
		"failures", failures, "err", err, "cooldown", s.opts.Cooldown)
	s.changed(cluster, url, Closed, Open)
}

// node returns the breaker of url, making it; s.mu is held.
func (s *Set) node(cluster, url string) *node {
	n := s.nodes[url]
	if n == nil {
		n = &node{cluster: cluster, url: url}
		s.nodes[url] = n
	}
	n.cluster = cluster
	return n
}

// open opens n for a cool-down; s.mu is held.
func (s *Set) open(n *node) {
	now := s.opts.Now()
	n.state, n.openedAt, n.retryAt = Open, now, now.Add(s.opts.Cooldown)
	n.opens++
}

func (s *Set) changed(cluster, url string, from, to State) {
	if s.opts.OnChange != nil {
		s.opts.OnChange(cluster, url, from, to)
	}
}

// Status returns every breaker that has seen a failure, by cluster and
// URL.
func (s *Set) Status() []NodeStatus {
	s.mu.Lock()
	out := make([]NodeStatus, 0, len(s.nodes))
	for _, n := range s.nodes {
		out = append(out, NodeStatus{Cluster: n.cluster, URL: n.url, State: n.state, Failures: n.failures,
			LastError: n.lastErr, OpenedAt: n.openedAt, Opens: n.opens})
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cluster != out[j].Cluster {
			return out[i].Cluster < out[j].Cluster
		}
		return out[i].URL < out[j].URL
	})
	return out
}

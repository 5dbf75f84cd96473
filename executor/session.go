package executor

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/replication"
	"github.com/sqlrouter/sqlrouter/shardmap"
	"github.com/sqlrouter/sqlrouter/txn"
)

// Client is the client side of a session as the executor sees it.
type Client interface {
	// WriteRaw queues one message (type byte and body) for the client; the
	// body is copied before WriteRaw returns.
	WriteRaw(typ byte, body []byte)
	// Send queues a message for the client.
	Send(msg pgproto3.BackendMessage)
	// Flush writes the queued messages.
	Flush() error
	// ReceiveCopy returns the client's next CopyData, CopyDone or CopyFail
	// during COPY FROM STDIN. The message is valid until the next call.
	ReceiveCopy() (pgproto3.FrontendMessage, error)
	// Mark returns the current end of the unflushed output; Rewind cuts
	// the output back to a mark, if nothing was flushed since.
	Mark() Mark
	Rewind(Mark) bool
}

// Config is shared by every session of a router.
type Config struct {
	// Pool lends the backend sessions.
	Pool Pool
	// SessionPooling keeps a client's backend sessions until it
	// disconnects; otherwise they go back to the pool after each
	// transaction.
	SessionPooling bool
	Coordinator    *txn.Coordinator
	Logger         *slog.Logger
	// Version is the router's version, for SHOW sqlrouter.version.
	Version string
	// Stats, when set, counts statements per cluster.
	Stats *Stats
	// Estimates, when set, caches the row estimates that choose how a
	// join of tables of different distributions runs.
	Estimates *Estimates
	// Replicas, when set, chooses replicas for reads; nil sends every read
	// to the primary.
	Replicas Replicas
	// Reads are the defaults of read routing.
	Reads ReadDefaults
	// Admin, when set, answers SHOW of the router's admin views.
	Admin Admin
	// NodeFailed, when set, hears of every backend connection lost to an
	// I/O error (circuit breakers).
	NodeFailed func(cluster, url string, err error)
	// Keys keeps blocks of generated key values for every session; nil
	// takes values one statement at a time.
	Keys *KeyBlocks
	// Slots gives each cluster its sequence slot (package idrange); nil
	// numbers the clusters in sorted order, which holds only while the
	// shard map keeps its clusters.
	Slots SequenceSlots
}

// txState is the client-visible transaction state.
type txState int

const (
	txIdle   txState = iota // no explicit transaction block
	txBlock                 // inside BEGIN ... COMMIT
	txFailed                // inside a block after an error: only ROLLBACK helps
)

// Session executes one client's statements. It is not safe for concurrent
// use, except Cancel.
type Session struct {
	cfg    *Config
	client Client
	snap   *shardmap.Snapshot
	log    *slog.Logger

	// conns are the backend sessions by cluster.
	conns map[string]*conn
	// coord is the backend session on the coordinator, which finishes
	// statements that span clusters.
	coord *conn

	state txState
	// beginSQL is the BEGIN text replayed on clusters joining the block.
	beginSQL string
	// coordinated is true when every participant got BEGIN (explicit
	// blocks, and implicit transactions that span clusters or statements).
	coordinated bool
	// participants are the conns in the current transaction, in join order.
	participants []*conn
	// savepoints are the open savepoints, oldest first.
	savepoints []string

	settings settings
	// cursors maps an open cursor to its cluster.
	cursors map[string]string

	pipe pipeline
	ext  extendedState

	// reported are the ParameterStatus values the client has seen.
	reported map[string]string
	// cancelable lists the backend sessions for Cancel, which runs on
	// another goroutine.
	cancelMu   sync.Mutex
	cancelable []*backend.Conn
	// cancelled is set by Cancel until the next request begins
	// (BeginRequest): a backend session leased after the cancel would
	// miss it, so the request leases none and fails with 57014.
	cancelled atomic.Bool

	// replicas are the backend sessions on replicas, by URL.
	replicas map[string]*conn
	// txnConns is the node each cluster is read from in a read-only
	// transaction.
	txnConns map[string]*conn
	// readOnlyTxn is set inside BEGIN READ ONLY (reads may use replicas).
	readOnlyTxn bool
	// tempObjects is set once the session created temporary objects: they
	// exist only in its primary's backend, so its reads stay there.
	tempObjects bool
	// sessionState is set once a statement left state in a backend
	// session (advisory locks, LISTEN, ...): its backend sessions stay
	// with this client.
	sessionState bool
	// batchWrites is set while a Query message holding a write runs: its
	// reads go to the primaries with it.
	batchWrites bool
	reads       readSettings
	// token is the read-your-writes position.
	token        replication.Token
	tokenChanged bool
	// route lists the nodes the current statement uses; lastRoute the
	// previous statement's, for SHOW sqlrouter.last_route.
	route     []string
	lastRoute []string
	// rowsShipped counts the rows the current statement sent from one
	// node to another; lastRowsShipped the previous statement's, for SHOW
	// sqlrouter.last_rows_shipped.
	rowsShipped, lastRowsShipped int64
	// order is syncOrder's buffer.
	order []*conn
	// retries is the arena of readRetry, retryUsed its part in use;
	// entrySlab and entryUsed the same for pipeline entries.
	retries   []*readRetry
	retryUsed int
	entrySlab []*entry
	entryUsed int
	syncBuf   []*entry
	// keyDefaults caches what tables' key columns default to, for INSERTs
	// that leave the key out, as of the router's schema generation
	// keyDefaultsGen.
	keyDefaults    map[string]keyDefault
	keyDefaultsGen uint64
}

// NewSession makes a session. startupParams are the client's startup
// parameters to pass to backends (application_name, DateStyle, ...).
func NewSession(cfg *Config, client Client, startupParams map[string]string) *Session {
	s := &Session{
		cfg:      cfg,
		client:   client,
		conns:    map[string]*conn{},
		cursors:  map[string]string{},
		replicas: map[string]*conn{},
		txnConns: map[string]*conn{},
		reported: map[string]string{},
	}
	s.ext.init()
	s.settings.base = startupSettings(startupParams)
	s.settings.refresh()
	return s
}

// SetSnapshot gives the shard map the next statements run against.
func (s *Session) SetSnapshot(snap *shardmap.Snapshot) { s.snap = snap }

// TxStatus is the status byte for ReadyForQuery: 'I', 'T' or 'E'.
func (s *Session) TxStatus() byte {
	switch s.state {
	case txBlock:
		return 'T'
	case txFailed:
		return 'E'
	}
	return 'I'
}

// SearchPath is the session's effective search_path ("" = default), which
// planning depends on.
func (s *Session) SearchPath() string { return s.settings.value("search_path") }

// Cancel asks every backend session of the client to cancel what it runs:
// a statement that fans out stops everywhere. It may be called from any
// goroutine.
func (s *Session) Cancel(ctx context.Context) {
	s.cancelled.Store(true)
	s.cancelMu.Lock()
	list := slices.Clone(s.cancelable)
	s.cancelMu.Unlock()
	var wg sync.WaitGroup
	for _, c := range list {
		wg.Go(func() {
			if err := c.Cancel(ctx); err != nil {
				s.logger().Debug("cancel request failed", "addr", c.Addr(), "err", err)
			}
		})
	}
	wg.Wait()
}

// BeginRequest notes that the client sent a new request: a cancel of the
// previous one no longer applies.
func (s *Session) BeginRequest() { s.cancelled.Store(false) }

// publishConns refreshes the list Cancel reads.
func (s *Session) publishConns() {
	s.cancelMu.Lock()
	defer s.cancelMu.Unlock()
	list := s.cancelable[:0]
	for _, c := range s.conns {
		list = append(list, c.Conn)
	}
	for _, c := range s.replicas {
		list = append(list, c.Conn)
	}
	if s.coord != nil {
		list = append(list, s.coord.Conn)
	}
	clear(list[len(list):cap(list)])
	s.cancelable = list
}

// Close gives every backend session back: clean ones to be reused, the
// others reset or closed (an open transaction rolls back).
func (s *Session) Close() {
	s.giveBackAll()
}

// conn returns the session's backend session for a cluster, connecting
// (and replaying the session's settings) when needed. It does not join the
// transaction.
func (s *Session) conn(ctx context.Context, cluster string) (*conn, error) {
	m := s.snap.Map
	cl, ok := m.Clusters[cluster]
	if !ok {
		return nil, pgerror.New(pgerror.InternalError, "cluster %q is not in the shard map", cluster)
	}
	c := s.conns[cluster]
	if c != nil && (c.Broken() || (c.url != cl.Primary && !c.participant)) {
		// The cluster moved in the shard map, or the connection died: start
		// over (a broken participant fails its transaction elsewhere).
		if c.participant {
			return nil, pgerror.New(pgerror.ConnectionFailure, "connection to cluster %s was lost inside the transaction", cluster)
		}
		c.Close()
		delete(s.conns, cluster)
		s.publishConns()
		c = nil
	}
	if c == nil {
		var err error
		if c, err = s.lease(ctx, cluster, cl.Primary); err != nil {
			return nil, err
		}
		s.conns[cluster] = c
		s.publishConns()
	}
	return c, nil
}

func connectError(cluster string, err error) error {
	e := pgerror.New(pgerror.ConnectionFailure, "could not connect to cluster %s: %v", cluster, err)
	return e
}

// sortedClusters lists the keys of the session's conns in order.
func (s *Session) sortedClusters() []string {
	out := slices.Collect(maps.Keys(s.conns))
	sort.Strings(out)
	return out
}

// syncOrder lists every open conn, primaries by cluster then replicas by
// URL: the order a Sync reaches them. The list is valid until the next
// call.
func (s *Session) syncOrder() []*conn {
	out := s.order[:0]
	for _, c := range s.conns {
		out = append(out, c)
	}
	if len(out) > 1 {
		slices.SortFunc(out, func(a, b *conn) int { return strings.Compare(a.cluster, b.cluster) })
	}
	n := len(out)
	for _, c := range s.replicas {
		out = append(out, c)
	}
	if len(out)-n > 1 {
		slices.SortFunc(out[n:], func(a, b *conn) int { return strings.Compare(a.url, b.url) })
	}
	s.order = out
	return out
}

func (s *Session) String() string { return fmt.Sprintf("session(%d conns)", len(s.conns)) }

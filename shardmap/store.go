package shardmap

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultKey is the etcd key that holds the shard map document unless
// configured otherwise.
const DefaultKey = "/sqlrouter/shardmap"

// Snapshot is one valid version of the shard map as stored in etcd.
// Snapshots are immutable.
type Snapshot struct {
	// Map is the parsed map.
	Map *Map
	// Revision is the etcd ModRevision of the key: the map's version.
	// Newer versions have higher revisions.
	Revision int64
	// Raw is the document exactly as stored; do not modify it.
	Raw []byte
}

// Store keeps the current shard map of one etcd key: it loads the key,
// watches it, and swaps each new valid version in atomically. An invalid
// document or a deleted key is logged and ignored, so routers keep
// serving on their last good map, also while etcd is unreachable.
type Store struct {
	cli *clientv3.Client
	key string
	log *slog.Logger

	cur       atomic.Pointer[Snapshot]
	ready     chan struct{}
	readyOnce sync.Once

	mu   sync.Mutex
	subs map[chan *Snapshot]struct{}

	// rejected is the last revision logged as invalid, so a re-list after
	// a reconnect does not log the same document again. Only Run uses it.
	rejected int64
}

// NewStore makes a Store for key (DefaultKey when ""). logger nil means
// slog.Default(). Nothing happens until Run is called.
func NewStore(cli *clientv3.Client, key string, logger *slog.Logger) *Store {
	if key == "" {
		key = DefaultKey
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Store{
		cli:   cli,
		key:   key,
		log:   logger.With("component", "shardmap", "key", key),
		ready: make(chan struct{}),
		subs:  map[chan *Snapshot]struct{}{},
	}
}

// Current returns the current snapshot, or nil before the first valid
// map is loaded. It is a single atomic load: cheap enough per statement.
func (s *Store) Current() *Snapshot { return s.cur.Load() }

// WaitReady blocks until a first valid map is loaded (by Run) and returns
// it, or returns ctx's error.
func (s *Store) WaitReady(ctx context.Context) (*Snapshot, error) {
	select {
	case <-s.ready:
		return s.Current(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Subscribe returns a channel that receives the new snapshot after every
// swap, and a function that ends the subscription (and closes the
// channel). The channel holds one snapshot: a slow reader sees only the
// latest, never a stale one after a newer. To start from the current
// state, subscribe first, then read Current.
func (s *Store) Subscribe() (<-chan *Snapshot, func()) {
	ch := make(chan *Snapshot, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.subs, ch)
			close(ch)
			s.mu.Unlock()
		})
	}
}

// swap installs snap and tells the subscribers. Sends happen under mu,
// so a full channel can be drained and refilled without racing.
func (s *Store) swap(snap *Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur.Store(snap)
	s.readyOnce.Do(func() { close(s.ready) })
	for ch := range s.subs {
		select {
		case ch <- snap:
		default:
			select {
			case <-ch:
			default:
			}
			ch <- snap
		}
	}
}

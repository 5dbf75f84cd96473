package shardmap

import (
	"context"
	"errors"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Retry pacing while etcd is unreachable.
const (
	minRetry = 100 * time.Millisecond
	maxRetry = 5 * time.Second
	// readTimeout bounds one read of the key, so an unreachable etcd is
	// reported (and retried) instead of waited on silently.
	readTimeout = 5 * time.Second
)

// Run loads the key, then watches it until ctx is done, and returns nil
// then. Call it once, in its own goroutine. It never gives up on etcd:
// while etcd is away it retries (with backoff) and the last good map
// stays current; the watch resumes from the last revision seen, and
// re-reads the key when that revision has been compacted away.
func (s *Store) Run(ctx context.Context) error {
	retry := minRetry
	var next int64 // revision to resume watching from; 0 = read the key first
	for ctx.Err() == nil {
		if next == 0 {
			rev, err := s.load(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("cannot read the shard map from etcd; keeping the current one", "error", err, "retry_in", retry)
				}
				sleep(ctx, retry)
				retry = min(retry*2, maxRetry)
				continue
			}
			next = rev + 1
		}
		resume, progressed := s.watch(ctx, next)
		next = resume
		if progressed {
			retry = minRetry
		}
		if ctx.Err() == nil {
			sleep(ctx, retry)
			retry = min(retry*2, maxRetry)
		}
	}
	return nil
}

// load reads the key once and considers its value; it returns the etcd
// revision the read saw, from which the watch continues.
func (s *Store) load(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.key)
	if err != nil {
		return 0, err
	}
	if len(resp.Kvs) == 0 {
		if s.Current() == nil {
			s.log.Info("no shard map stored yet; waiting for one")
		} else {
			s.log.Warn("the shard map key is gone; keeping the last good map", "revision", s.Current().Revision)
		}
	} else {
		kv := resp.Kvs[0]
		s.consider(kv.Value, kv.ModRevision)
	}
	return resp.Header.Revision, nil
}

// watch follows the key from revision from until the watch ends. It
// returns the revision to resume from (0 when the key must be read again)
// and whether any response arrived.
func (s *Store) watch(ctx context.Context, from int64) (resume int64, progressed bool) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resume = from
	for wresp := range s.cli.Watch(wctx, s.key, clientv3.WithRev(from)) {
		progressed = true
		if wresp.CompactRevision != 0 {
			s.log.Info("watch revision compacted; reading the key again", "compact_revision", wresp.CompactRevision)
			return 0, true
		}
		if err := wresp.Err(); err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("shard map watch interrupted; resuming", "error", err, "from_revision", resume)
			}
			return resume, true
		}
		for _, ev := range wresp.Events {
			switch ev.Type {
			case mvccpb.PUT:
				s.consider(ev.Kv.Value, ev.Kv.ModRevision)
			case mvccpb.DELETE:
				s.log.Warn("the shard map key was deleted; keeping the last good map", "revision", ev.Kv.ModRevision)
			}
			resume = ev.Kv.ModRevision + 1
		}
	}
	return resume, progressed
}

// consider swaps in a stored document if it is valid and new.
func (s *Store) consider(raw []byte, rev int64) {
	if cur := s.Current(); cur != nil && cur.Revision == rev {
		return
	}
	m, err := Parse(raw)
	if err != nil {
		if rev != s.rejected {
			s.rejected = rev
			s.log.Warn("ignoring an invalid shard map; keeping the last good one",
				"revision", rev, "problems", issueList(err))
		}
		return
	}
	s.swap(&Snapshot{Map: m, Revision: rev, Raw: raw})
	s.log.Info("shard map loaded", "revision", rev, "clusters", len(m.Clusters), "tables", len(m.Tables))
}

// issueList renders a validation error as a list of "path: message".
func issueList(err error) []string {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return []string{err.Error()}
	}
	out := make([]string, len(ve.Issues))
	for i, is := range ve.Issues {
		out[i] = is.String()
	}
	return out
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

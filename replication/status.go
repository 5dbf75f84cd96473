package replication

import (
	"context"
	"fmt"
	"time"
)

// NodeStatus is a snapshot of what the Tracker knows about one node, for
// SHOW commands and metrics.
type NodeStatus struct {
	Node
	// Healthy is true when the node's last check succeeded, or it has
	// failed fewer than FailThreshold checks in a row since one did.
	// A node that has never been checked successfully is not healthy.
	Healthy bool
	// LSN is the position of the last successful check: the replay
	// position of a replica, the current WAL position of a primary.
	LSN LSN
	// Lag is how long a replica has been behind: since the primary was
	// first seen past the replica's replay position as of its last check
	// (0 when it had replayed everything the primary was seen at). Its
	// precision is about one poll interval. Always 0 for a primary.
	Lag time.Duration
	// LastCheck is when the last check (or MarkFailed) was recorded; zero
	// before the first one.
	LastCheck time.Time
	// LastError is the error of the last failed check since the last
	// successful one, or nil.
	LastError error
	// Failures is the number of checks failed in a row.
	Failures int
	// InFlight is the number of uses counted by Acquire and not yet
	// released.
	InFlight int64
	// Excluded is set while Exclude keeps the node out of rotation.
	Excluded bool
}

// Status returns the state of every node, in SetNodes order.
func (t *Tracker) Status() []NodeStatus {
	top := t.top.Load()
	now := t.now().UnixNano()
	out := make([]NodeStatus, 0, len(top.members))
	for _, m := range top.members {
		st := m.st
		s := NodeStatus{
			Node:     m.Node,
			Healthy:  st.healthy.Load(),
			LSN:      LSN(st.lsn.Load()),
			InFlight: st.inFlight.Load(),
			Excluded: st.excluded.Load(),
		}
		if since := st.staleSince.Load(); since != 0 {
			s.Lag = time.Duration(max(now-since, 0))
		}
		st.mu.Lock()
		s.LastCheck, s.LastError, s.Failures = st.lastCheck, st.lastErr, st.failures
		st.mu.Unlock()
		out = append(out, s)
	}
	return out
}

// MarkFailed reports that a caller could not use the node with this URL
// (a connection failed): it counts as a failed check, so it may eject the
// node, and the node is checked again at once (a success re-admits it).
// An unknown URL is ignored.
func (t *Tracker) MarkFailed(url string, err error) {
	st := t.top.Load().byURL[url]
	if st == nil {
		return
	}
	if err == nil {
		err = fmt.Errorf("reported failed")
	}
	t.record(st, 0, observation{}, fmt.Errorf("reported by a caller: %w", err))
	st.requestCheck()
}

// PrimaryLSN returns the current WAL position of cluster's primary, read
// by a check that starts after the call (so after any commit that
// returned before it): the position to Advance a Token to after a writing
// commit. It makes one query on the primary's monitoring connection,
// shared by concurrent callers, and needs Run to be running
// (ErrNotRunning otherwise).
func (t *Tracker) PrimaryLSN(ctx context.Context, cluster string) (LSN, error) {
	c := t.top.Load().clusters[cluster]
	if c == nil {
		return 0, fmt.Errorf("replication: %w %q", ErrUnknownCluster, cluster)
	}
	if !c.hasPrimary {
		return 0, fmt.Errorf("replication: cluster %s has no primary", cluster)
	}
	if !t.running.Load() {
		return 0, fmt.Errorf("replication: primary position of %s: %w", cluster, ErrNotRunning)
	}
	st := c.primary.st
	st.mu.Lock()
	want := st.started + 1
	st.mu.Unlock()
	st.requestCheck()
	for {
		st.mu.Lock()
		if st.done >= want {
			lsn, err := LSN(st.lsn.Load()), st.result
			st.mu.Unlock()
			if err != nil {
				return 0, fmt.Errorf("replication: primary position of %s: %w", cluster, err)
			}
			return lsn, nil
		}
		done := st.doneCh
		st.mu.Unlock()
		select {
		case <-done:
		case <-st.stopped:
			return 0, fmt.Errorf("replication: primary position of %s: the node was removed", cluster)
		case <-t.runDone:
			return 0, fmt.Errorf("replication: primary position of %s: %w", cluster, ErrNotRunning)
		case <-ctx.Done():
			return 0, fmt.Errorf("replication: primary position of %s: %w", cluster, ctx.Err())
		}
	}
}

// Exclude takes the replica with this URL out of rotation (excluded true)
// or lets it back (false), whatever its checks say: the router's circuit
// breaker excludes a server it cannot connect to. An unknown URL is
// ignored; a node that leaves the set and comes back is not excluded.
func (t *Tracker) Exclude(url string, excluded bool) {
	if st := t.top.Load().byURL[url]; st != nil {
		st.excluded.Store(excluded)
	}
}

// usable reports whether a replica may serve reads: healthy and not
// excluded.
func (st *nodeState) usable() bool { return st.healthy.Load() && !st.excluded.Load() }

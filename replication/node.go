package replication

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// Node is one PostgreSQL server of a cluster, as the shard map lists it.
type Node struct {
	// Cluster is the name of the node's cluster.
	Cluster string
	// URL is the node's postgres:// URL as written in the shard map; it
	// identifies the node in Acquire, MarkFailed and Status.
	URL string
	// Primary is true for the cluster's primary, false for a replica.
	Primary bool
	// Weight is a replica's share of reads under the Weighted policy; 0
	// takes it out of rotation under every policy. Ignored for primaries.
	Weight int
}

// NodesOf lists the nodes of a shard map, cluster by cluster in document
// order, each primary before its replicas, ready for Tracker.SetNodes.
func NodesOf(m *shardmap.Map) []Node {
	var nodes []Node
	for _, name := range m.ClusterNames {
		c := m.Clusters[name]
		nodes = append(nodes, Node{Cluster: name, URL: c.Primary, Primary: true})
		for _, r := range c.Replicas {
			nodes = append(nodes, Node{Cluster: name, URL: r.URL, Weight: r.Weight})
		}
	}
	return nodes
}

// nodeKey identifies a node across SetNodes calls: a node whose role
// changes (a promoted replica) starts afresh.
type nodeKey struct {
	cluster, url string
	primary      bool
}

// observation is what one successful check of a node returned.
type observation struct {
	// lsn is pg_current_wal_lsn() on a primary, pg_last_wal_replay_lsn()
	// on a replica.
	lsn LSN
	// receiveLSN is a replica's pg_last_wal_receive_lsn() (0 when NULL).
	receiveLSN LSN
	// inRecovery is pg_is_in_recovery() (only asked of replicas).
	inRecovery bool
	// replayAge is a replica's now() - pg_last_xact_replay_timestamp(),
	// negative when unknown.
	replayAge time.Duration
}

// errNotInRecovery and errNoReplayLSN fail the check of a replica that
// cannot serve as one.
var (
	errNotInRecovery = errors.New("the replica is not in recovery (promoted?)")
	errNoReplayLSN   = errors.New("pg_last_wal_replay_lsn() is NULL")
)

// validate turns an answer that disqualifies the node into an error.
func (o observation) validate(primary bool) error {
	switch {
	case primary:
		return nil
	case !o.inRecovery:
		return errNotInRecovery
	case o.lsn == 0:
		return errNoReplayLSN
	}
	return nil
}

// nodeState is what the Tracker knows about one node. The fields Choose
// reads are atomics; the rest is guarded by mu. A nodeState lives as long
// as its node stays in the Tracker's set.
type nodeState struct {
	key    nodeKey
	shared *clusterShared
	// wake (capacity 1) asks the node's worker for a check now; requests
	// made while a check runs coalesce into the next one.
	wake chan struct{}
	// stopped is closed when the node's worker ends.
	stopped chan struct{}

	healthy    atomic.Bool
	excluded   atomic.Bool   // see Tracker.Exclude
	lsn        atomic.Uint64 // LSN of the last successful check
	staleSince atomic.Int64  // see clusterShared.staleSince; 0 = caught up
	inFlight   atomic.Int64  // Acquire count

	mu        sync.Mutex
	ejected   bool // has failed FailThreshold checks in a row since its last success
	failures  int  // consecutive failed checks
	lastErr   error
	lastCheck time.Time
	started   uint64        // checks started
	done      uint64        // checks completed
	doneCh    chan struct{} // closed and replaced when a check completes
	result    error         // result of check number done
	swrr      int           // smooth weighted round robin's current weight; guarded by shared.mu
}

func newNodeState(key nodeKey, shared *clusterShared) *nodeState {
	return &nodeState{
		key:     key,
		shared:  shared,
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
		doneCh:  make(chan struct{}),
	}
}

// requestCheck asks the node's worker for a check as soon as possible.
func (st *nodeState) requestCheck() {
	select {
	case st.wake <- struct{}{}:
	default: // one is already pending
	}
}

// beginCheck numbers a check that is about to send its query.
func (st *nodeState) beginCheck() uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.started++
	return st.started
}

// record applies the result of check number seq (0 for a failure reported
// through MarkFailed) and wakes whoever waits on the node's cluster.
func (t *Tracker) record(st *nodeState, seq uint64, obs observation, err error) {
	at := t.now()
	if err == nil {
		err = obs.validate(st.key.primary)
	}
	var stale int64
	if err == nil {
		if st.key.primary {
			st.shared.addSample(obs.lsn, at)
		} else {
			stale = st.shared.staleSince(obs, at)
		}
	}

	st.mu.Lock()
	if err != nil {
		st.failures++
		st.lastErr = err
		if st.failures >= t.opts.FailThreshold {
			st.healthy.Store(false)
			if !st.ejected {
				st.ejected = true
				t.log.Warn("replication: node ejected", "cluster", st.key.cluster, "url", shardmap.RedactURL(st.key.url),
					"primary", st.key.primary, "failures", st.failures, "error", err)
			}
		}
	} else {
		st.failures = 0
		st.lastErr = nil
		st.lsn.Store(uint64(obs.lsn))
		st.staleSince.Store(stale)
		st.healthy.Store(true)
		if st.ejected {
			st.ejected = false
			t.log.Info("replication: node re-admitted", "cluster", st.key.cluster, "url", shardmap.RedactURL(st.key.url),
				"primary", st.key.primary, "lsn", obs.lsn)
		}
	}
	if err != nil {
		t.log.Debug("replication: check failed", "cluster", st.key.cluster, "url", shardmap.RedactURL(st.key.url), "error", err)
	}
	st.lastCheck = at
	if seq != 0 {
		st.done = seq
		st.result = err
		close(st.doneCh)
		st.doneCh = make(chan struct{})
	}
	st.mu.Unlock()
	st.shared.signalChecked()
}

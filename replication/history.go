package replication

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// maxSamples bounds a cluster's history of primary positions: with one
// new position per poll, about two minutes at the default interval, far
// beyond any useful lag bound.
const maxSamples = 128

// lsnSample is a WAL position of a cluster's primary and when the Tracker
// first saw it there.
type lsnSample struct {
	lsn LSN
	at  int64 // Unix nanoseconds
}

// clusterShared is the state of one cluster that outlives SetNodes: the
// history of its primary's positions, from which replica lag is measured,
// the balancing state, and the signal that one of its nodes was checked.
type clusterShared struct {
	name string
	rr   atomic.Uint64 // round robin position

	mu      sync.Mutex
	samples []lsnSample   // ascending lsn
	checked chan struct{} // closed and replaced after each check of a node of the cluster
	// The smooth weighted round robin weights live in nodeState.swrr,
	// guarded by mu.
}

func newClusterShared(name string) *clusterShared {
	return &clusterShared{name: name, checked: make(chan struct{})}
}

// addSample records that the primary was at lsn at time at. A position
// lower than the last one (a new primary) starts the history afresh.
func (c *clusterShared) addSample(lsn LSN, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.samples); n > 0 {
		switch last := c.samples[n-1].lsn; {
		case lsn == last:
			return // keep the time it was first seen
		case lsn < last:
			c.samples = c.samples[:0]
		case n == maxSamples:
			copy(c.samples, c.samples[1:])
			c.samples = c.samples[:n-1]
		}
	}
	c.samples = append(c.samples, lsnSample{lsn: lsn, at: at.UnixNano()})
}

// staleSince returns since when a replica that has replayed up to replay
// has been behind: the first time the primary was seen past replay, in
// Unix nanoseconds, or 0 when the replica had replayed every position the
// primary was seen at. Without any primary position (the primary not yet
// checked, or unreachable), it falls back on the replica's own view: it is
// behind since its last replayed transaction when it has received WAL it
// has not replayed yet.
func (c *clusterShared) staleSince(obs observation, at time.Time) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.samples) == 0 {
		if obs.receiveLSN > obs.lsn && obs.replayAge >= 0 {
			return at.Add(-obs.replayAge).UnixNano()
		}
		return 0
	}
	i := sort.Search(len(c.samples), func(i int) bool { return c.samples[i].lsn > obs.lsn })
	if i == len(c.samples) {
		return 0
	}
	return c.samples[i].at
}

// checkedSignal returns a channel closed after the next check of a node
// of the cluster completes.
func (c *clusterShared) checkedSignal() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked
}

// signalChecked wakes everyone waiting on checkedSignal.
func (c *clusterShared) signalChecked() {
	c.mu.Lock()
	close(c.checked)
	c.checked = make(chan struct{})
	c.mu.Unlock()
}

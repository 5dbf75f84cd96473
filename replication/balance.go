package replication

import (
	"sync"
	"sync/atomic"
)

// pick applies the Tracker's policy to the replicas of c eligible for req.
// It does not allocate for clusters of up to 64 replicas.
func (t *Tracker) pick(c *clusterState, req Requirement, now int64) (member, bool) {
	switch t.opts.Policy {
	case LeastConnections:
		return c.pickLeastConnections(req, now)
	case Weighted:
		return c.pickWeighted(req, now)
	}
	return c.pickRoundRobin(req, now)
}

// pickRoundRobin takes the eligible replicas in turn. Eligibility is
// decided once, into a bit set, so that a replica changing state midway
// cannot skew the turn.
func (c *clusterState) pickRoundRobin(req Requirement, now int64) (member, bool) {
	var small [1]uint64
	set := small[:]
	if len(c.replicas) > 64 {
		set = make([]uint64, (len(c.replicas)+63)/64)
	}
	count := 0
	for i := range c.replicas {
		if eligible(&c.replicas[i], req, now) {
			set[i/64] |= 1 << (i % 64)
			count++
		}
	}
	return c.takeTurn(set, count)
}

// takeTurn returns the next in turn of the count replicas in set.
func (c *clusterState) takeTurn(set []uint64, count int) (member, bool) {
	if count == 0 {
		return member{}, false
	}
	turn := int((c.shared.rr.Add(1) - 1) % uint64(count))
	for i := range c.replicas {
		if set[i/64]&(1<<(i%64)) != 0 {
			if turn == 0 {
				return c.replicas[i], true
			}
			turn--
		}
	}
	return member{}, false // unreachable: turn < count
}

// pickLeastConnections takes the eligible replica with the fewest uses in
// flight; equals take turns, as in round robin.
func (c *clusterState) pickLeastConnections(req Requirement, now int64) (member, bool) {
	var small [1]uint64
	ties := small[:]
	if len(c.replicas) > 64 {
		ties = make([]uint64, (len(c.replicas)+63)/64)
	}
	count, least := 0, int64(0)
	for i := range c.replicas {
		r := &c.replicas[i]
		if !eligible(r, req, now) {
			continue
		}
		load := r.st.inFlight.Load()
		if count > 0 && load > least {
			continue
		}
		if count == 0 || load < least {
			clear(ties)
			count, least = 0, load
		}
		ties[i/64] |= 1 << (i % 64)
		count++
	}
	return c.takeTurn(ties, count)
}

// pickWeighted is smooth weighted round robin: every eligible replica's
// current weight grows by its weight, the highest is taken and loses the
// sum of the weights. Over W = sum of weights choices among the same
// replicas, each is taken exactly weight times, evenly spread.
func (c *clusterState) pickWeighted(req Requirement, now int64) (member, bool) {
	c.shared.mu.Lock()
	defer c.shared.mu.Unlock()
	best, total := -1, 0
	for i := range c.replicas {
		r := &c.replicas[i]
		if !eligible(r, req, now) {
			continue
		}
		r.st.swrr += r.Weight
		total += r.Weight
		if best < 0 || r.st.swrr > c.replicas[best].st.swrr {
			best = i
		}
	}
	if best < 0 {
		return member{}, false
	}
	c.replicas[best].st.swrr -= total
	return c.replicas[best], true
}

// Acquire counts a use in flight of the node with this URL, for the
// LeastConnections policy and for Status, until the returned function is
// called (more calls of it do nothing). An unknown URL counts nothing.
func (t *Tracker) Acquire(url string) (release func()) {
	n := t.InFlight(url)
	if n == nil {
		return func() {}
	}
	n.Add(1)
	return sync.OnceFunc(func() { n.Add(-1) })
}

// InFlight is the counter of uses in flight of the node with this URL
// (what Acquire counts), for callers that count without allocating; nil
// for an unknown URL. Every Add(1) must be matched by an Add(-1).
func (t *Tracker) InFlight(url string) *atomic.Int64 {
	st := t.top.Load().byURL[url]
	if st == nil {
		return nil
	}
	return &st.inFlight
}

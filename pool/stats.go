package pool

import "sort"

// counters are a node's running totals.
type counters struct {
	acquired, waited, timeouts, refused     int64
	dialed, dialErrors, closedDead, expired int64
	evicted, resets                         int64
}

// NodeStats is a snapshot of one server's pool.
type NodeStats struct {
	URL string
	// Open counts connections open or being opened; InUse those leased;
	// Idle those waiting for a session; Waiting the sessions queued.
	Open, InUse, Idle, Waiting int
	// Acquired counts leases; Waited those that queued; Timeouts those
	// that gave up; Refused those turned away by a full queue.
	Acquired, Waited, Timeouts, Refused int64
	// Dialed counts new connections, DialErrors failed attempts;
	// ClosedDead idle connections found dead, Expired those closed for
	// age or idleness, Evicted those closed to make room for another
	// key; Resets dirty connections reset.
	Dialed, DialErrors, ClosedDead, Expired, Evicted, Resets int64
}

// Stats returns every node's pool, sorted by URL.
func (p *Pool[C]) Stats() []NodeStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]NodeStats, 0, len(p.nodes))
	for _, n := range p.nodes {
		idle := 0
		for _, list := range n.idle {
			idle += len(list)
		}
		c := n.stats
		out = append(out, NodeStats{URL: n.url, Open: n.open, InUse: n.leased, Idle: idle, Waiting: len(n.waiters),
			Acquired: c.acquired, Waited: c.waited, Timeouts: c.timeouts, Refused: c.refused,
			Dialed: c.dialed, DialErrors: c.dialErrors, ClosedDead: c.closedDead, Expired: c.expired,
			Evicted: c.evicted, Resets: c.resets})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out
}

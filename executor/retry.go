package executor

import (
	"context"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Mark is a position in what the client has been sent but not yet
// flushed.
type Mark struct {
	Pos   int
	Epoch uint64
}

// readRetry describes a read sent to a replica, so that it can run again
// on another node when the replica's connection fails before any of its
// answer reached the client: the client's unflushed output is rewound to
// where the read's answer began, and the read is sent anew.
type readRetry struct {
	cluster string
	hint    string
	// A simple-protocol read: its text.
	simple     string
	charOffset int
	// An extended-protocol read: the statement, whether the client still
	// waits for its ParseComplete, the Bind, Describe and Executes.
	ps         *Prepared
	relayParse bool
	portal     string
	params     *boundParams
	describe   bool
	executes   []uint32
	attempts   int
	mark       Mark
	marked     bool
	retried    bool
}

// newRetry returns a zeroed readRetry from the session's arena; the arena
// is recycled when no statement is in flight (recycleRetries).
func (s *Session) newRetry() *readRetry {
	if s.retryUsed == len(s.retries) {
		s.retries = append(s.retries, &readRetry{params: &boundParams{}})
	}
	r := s.retries[s.retryUsed]
	s.retryUsed++
	bp := r.params
	*r = readRetry{params: bp, executes: r.executes[:0]}
	return r
}

// recycleRetries makes the arenas of entries and readRetries available
// again once no queued response refers to them. Portals kept open across Syncs (inside
// a transaction) lose theirs: a later Execute of such a portal is not
// retried elsewhere.
func (s *Session) recycleRetries() {
	if len(s.pipe.entries) > 0 {
		return
	}
	for _, e := range s.entrySlab[:s.entryUsed] {
		*e = entry{} // drop what it points to
	}
	s.entryUsed = 0
	if s.retryUsed == 0 {
		return
	}
	for _, p := range s.ext.portals {
		p.retry = nil
	}
	s.retryUsed = 0
}

// retryRead runs a failed replica read again on another node; ok is false
// when it cannot (the answer had begun to reach the client, or no other
// node).
func (s *Session) retryRead(ctx context.Context, r *readRetry, dead *conn) bool {
	if r.attempts >= 2 || !r.marked || !s.client.Rewind(r.mark) {
		return false
	}
	r.attempts++
	r.retried = true
	s.cfg.Replicas.MarkFailed(dead.url, errConnLost)
	s.dropReplica(dead)
	c, err := s.readConn(ctx, r.cluster, true, r.hint)
	if err != nil {
		return false
	}
	if err := s.enter(ctx, c); err != nil {
		return false
	}
	next := &readRetry{cluster: r.cluster, hint: r.hint, simple: r.simple, charOffset: r.charOffset, ps: r.ps, relayParse: r.relayParse,
		portal: r.portal, params: r.params, describe: r.describe, executes: r.executes, attempts: r.attempts}
	if r.simple != "" {
		c.SendQuery(r.simple)
		c.unnamed = ""
		s.push(s.newEntry(entry{kind: expQuery, conn: c, sink: clientSink{s}, charOffset: r.charOffset, retry: next}))
		return s.drain(ctx) == nil
	}
	first := len(s.pipe.entries)
	name := s.prepareOn(c, r.ps, r.relayParse)
	c.SendBind(r.portal, name, r.params.params.Formats, r.params.params.Values, r.params.results)
	s.push(s.newEntry(entry{kind: expBind, conn: c, sink: clientSink{s}}))
	if r.describe {
		c.Send(&pgproto3.Describe{ObjectType: 'P', Name: r.portal})
		s.push(s.newEntry(entry{kind: expDescribePortal, conn: c, sink: clientSink{s}}))
	}
	for _, max := range r.executes {
		c.SendExecute(r.portal, max)
		s.push(s.newEntry(entry{kind: expExecute, conn: c, sink: clientSink{s}}))
	}
	c.SendSync()
	c.needSync = false
	s.push(s.newEntry(entry{kind: expSync, conn: c}))
	for _, e := range s.pipe.entries[first:] {
		e.retry = next
	}
	if p, ok := s.ext.portals[r.portal]; ok && p.retry == r {
		p.conn, p.retry = c, next
	}
	return s.drain(ctx) == nil
}

// dropReplica forgets a replica conn that failed.
func (s *Session) dropReplica(c *conn) {
	c.Close()
	if s.replicas[c.url] == c {
		delete(s.replicas, c.url)
	}
	if s.txnConns[c.cluster] == c {
		delete(s.txnConns, c.cluster)
	}
	s.participants = removeConn(s.participants, c)
	c.participant = false
	s.publishConns()
}

type connLostError struct{}

func (connLostError) Error() string { return "connection lost" }

var errConnLost error = connLostError{}

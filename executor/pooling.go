package executor

import (
	"context"
	"errors"
	"maps"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/pool"
)

// Pool lends backend sessions (a *pool.Pool[*backend.Conn]).
type Pool interface {
	Acquire(ctx context.Context, key pool.Key) (*pool.Entry[*backend.Conn], error)
	Release(e *pool.Entry[*backend.Conn], how pool.Release)
}

// lease borrows a backend session for cluster at url.
func (s *Session) lease(ctx context.Context, cluster, url string) (*conn, error) {
	if s.cancelled.Load() {
		// The cancel went to the sessions the request held; one leased
		// now would run its part to the end.
		return nil, pgerror.New(pgerror.QueryCanceled, "canceling statement due to user request")
	}
	e, err := s.cfg.Pool.Acquire(ctx, pool.Key{Cluster: cluster, URL: url})
	switch {
	case errors.Is(err, pool.ErrTimeout), errors.Is(err, pool.ErrTooManyWaiters):
		return nil, pgerror.New(pgerror.TooManyConnections, "no connection to cluster %s is free: %v (pool.max_conns_per_node)", cluster, err).
			WithHint("Raise pool.max_conns_per_node or pool.acquire_timeout, or shorten transactions.")
	case err != nil:
		return nil, connectError(cluster, err)
	}
	return &conn{Conn: e.Conn, lease: e, pool: s.cfg.Pool, cluster: cluster, url: url}, nil
}

// pinned reports session state that lives in the backend sessions
// themselves: they stay with this client until it is gone (or DISCARD
// ALL).
func (s *Session) pinned() bool {
	return s.sessionState || s.tempObjects || len(s.cursors) > 0 || s.settings.hasIdentity()
}

// releaseIdle gives backend sessions back to the pool (transaction pooling):
// all of them between transactions, and inside a transaction those that
// are not part of it (used only to describe a statement, or by a finished
// coordinator step). A session whose state pins its backend sessions
// keeps them.
func (s *Session) releaseIdle() {
	if s.cfg.SessionPooling || len(s.pipe.entries) > 0 || s.pinned() {
		return
	}
	idle := s.state == txIdle && !s.coordinated
	free := func(c *conn) bool {
		return idle || (!c.participant && c.TxStatus() == 'I' && !c.needSync && c.Pending() == 0)
	}
	changed := false
	for cl, c := range s.conns {
		if free(c) {
			s.giveBack(c)
			delete(s.conns, cl)
			changed = true
		}
	}
	for u, c := range s.replicas {
		if free(c) {
			s.giveBack(c)
			delete(s.replicas, u)
			changed = true
		}
	}
	if s.coord != nil && free(s.coord) {
		s.giveBack(s.coord)
		s.coord = nil
		changed = true
	}
	if changed {
		if idle {
			clear(s.txnConns)
		}
		s.publishConns()
	}
}

// giveBackAll returns every backend session to the pool.
func (s *Session) giveBackAll() {
	for cl, c := range s.conns {
		s.giveBack(c)
		delete(s.conns, cl)
	}
	for u, c := range s.replicas {
		s.giveBack(c)
		delete(s.replicas, u)
	}
	if s.coord != nil {
		s.giveBack(s.coord)
		s.coord = nil
	}
	clear(s.txnConns)
	s.publishConns()
}

// giveBack returns one backend session, clean, to be reset, or to be
// closed.
func (s *Session) giveBack(c *conn) {
	how := pool.Clean
	switch {
	case c.Broken() || c.TxStatus() != 'I' || c.needSync || c.Pending() > 0:
		how = pool.Broken
	case c.dirty || s.settings.identity || s.sessionState || s.tempObjects || len(s.cursors) > 0 || s.cfg.SessionPooling:
		how = pool.Dirty
		c.Conn.ResetSQL = "DISCARD ALL"
	case c.seqState:
		// currval() and lastval() of this client must not answer
		// another's: forget the session's sequence values.
		how = pool.Dirty
		c.Conn.ResetSQL = "DISCARD SEQUENCES"
	}
	c.release(how)
}

// ResetConn brings a backend session that a client left with session
// state back to a fresh one (the pool's Resetter).
func ResetConn(ctx context.Context, c *backend.Conn) error {
	sql := c.ResetSQL
	if sql == "" {
		sql = "DISCARD ALL"
	}
	c.ResetSQL = ""
	if _, err := execSimple(ctx, c, sql, nil); err != nil {
		return err
	}
	if c.TxStatus() != 'I' {
		return errors.New(sql + " left a transaction open")
	}
	if sql == "DISCARD ALL" {
		c.Statements.Reset()
		c.Applied = ""
	}
	return nil
}

// Open checks the client's startup parameters on the default cluster and
// returns the ParameterStatus values to report to the client at startup.
// A startup parameter the server rejects fails here, as it would when
// connecting to PostgreSQL.
func (s *Session) Open(ctx context.Context) (map[string]string, error) {
	c, err := s.conn(ctx, s.snap.Map.DefaultClusterName())
	if err != nil {
		return nil, err
	}
	if c.Applied != s.settings.text {
		sql := s.settings.text
		if sql == "" {
			sql = "RESET ALL"
		}
		if err := c.Exec(ctx, sql); err != nil {
			s.giveBackAll()
			return nil, err
		}
		c.Applied = s.settings.text
		c.statuses = nil
	}
	params := maps.Clone(c.ServerParams)
	if v, ok := params["standard_conforming_strings"]; ok && v != "on" {
		// A default set on the server (ALTER DATABASE or ROLE ... SET):
		// the router would read the session's strings differently from
		// the server.
		s.giveBackAll()
		return nil, pgerror.Unsupported("standard_conforming_strings = off is not supported (cluster %s has it off for this user and database)", c.cluster).
			WithHint("Remove the ALTER DATABASE or ALTER ROLE setting on the clusters.")
	}
	maps.Copy(s.reported, params)
	s.releaseIdle()
	return params, nil
}

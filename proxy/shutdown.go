package proxy

import (
	"context"
	"time"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// terminateGrace is how long sessions terminated at the end of a drain
// have to say goodbye before their connections are closed under them.
const terminateGrace = 5 * time.Second

// Shutdown stops accepting connections and drains the sessions: a session
// leaves, with FATAL 57P01 (admin_shutdown) as a PostgreSQL shutdown says
// it, as soon as it is idle outside a transaction, so that transactions
// and statements in flight finish. When ctx is done, the sessions still
// there are terminated: what they run is cancelled, they get 57P01 and
// their connections close (open transactions roll back). Connections
// still in their startup are closed at once. Shutdown returns nil when
// every session left before ctx was done, else ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.mu.Lock()
	for ln := range s.listeners {
		ln.Close()
	}
	inSession := map[any]bool{}
	sessions := make([]*clientSession, 0, len(s.sessions))
	for _, cs := range s.sessions {
		sessions = append(sessions, cs)
		inSession[cs.nc] = true
	}
	for nc := range s.conns {
		if !inSession[nc] {
			nc.Close()
		}
	}
	s.mu.Unlock()
	for _, cs := range sessions {
		cs.drain()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	sessions = sessions[:0]
	for _, cs := range s.sessions {
		sessions = append(sessions, cs)
	}
	s.mu.Unlock()
	s.cfg.Logger.Warn("drain timeout: terminating the remaining client sessions", "sessions", len(sessions))
	for _, cs := range sessions {
		cs.terminate()
	}
	select {
	case <-done:
	case <-time.After(terminateGrace):
		s.mu.Lock()
		for nc := range s.conns {
			nc.Close()
		}
		s.mu.Unlock()
		<-done
	}
	return ctx.Err()
}

// lifecycle is what Shutdown needs to know of a session, guarded by
// clientSession.lmu.
type lifecycle struct {
	// reading is set while the session waits for a client message, idle
	// when it does so outside a transaction after ReadyForQuery.
	reading, idle bool
	// draining asks the session to leave when idle; terminating to leave
	// now.
	draining, terminating bool
}

// waitMessage marks the session as waiting for the client. It reports
// whether the session must leave instead.
func (cs *clientSession) waitMessage() bool {
	idle := cs.atReady && cs.exec.TxStatus() == 'I'
	cs.lmu.Lock()
	defer cs.lmu.Unlock()
	if cs.life.terminating || (cs.life.draining && idle) {
		return false
	}
	cs.life.reading, cs.life.idle = true, idle
	return true
}

// gotMessage marks the session busy again. It reports whether the read
// was interrupted by Shutdown.
func (cs *clientSession) gotMessage() bool {
	cs.lmu.Lock()
	defer cs.lmu.Unlock()
	cs.life.reading = false
	return cs.life.terminating || (cs.life.draining && cs.life.idle)
}

// drain asks the session to leave when idle: at once if it waits for its
// client outside a transaction.
func (cs *clientSession) drain() {
	cs.lmu.Lock()
	defer cs.lmu.Unlock()
	cs.life.draining = true
	if cs.life.reading && cs.life.idle {
		cs.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// terminate asks the session to leave now: a read is interrupted, a
// running request cancelled on its backends.
func (cs *clientSession) terminate() {
	cs.lmu.Lock()
	cs.life.terminating = true
	reading := cs.life.reading
	if reading {
		cs.nc.SetReadDeadline(time.Unix(1, 0))
	}
	cs.lmu.Unlock()
	if !reading {
		go cs.guard.cancel()
	}
}

// adminShutdown is the error a session leaves with at shutdown.
func adminShutdown() error {
	return pgerror.New(pgerror.AdminShutdown, "terminating connection due to administrator command")
}

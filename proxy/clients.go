package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// newSessionID names a client connection in the logs: 12 random hex
// digits.
func newSessionID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sessionLogger is the logger of a client connection: every line carries
// its session id and address, and once known its user and database.
func (s *Server) sessionLogger(cs *clientSession) *slog.Logger {
	return s.cfg.Logger.With("session", cs.id, "client", cs.nc.RemoteAddr().String())
}

// admit counts a client that sent its startup message against
// limits.max_client_conns; false (the client has been told, with 53300
// as PostgreSQL says it) when the router is full.
func (cs *clientSession) admit() bool {
	s := cs.srv
	n := s.clients.Add(1)
	cs.admitted = true
	if s.cfg.MaxClientConns > 0 && n > int64(s.cfg.MaxClientConns) {
		s.stats.Rejected.Add(1)
		cs.log.Warn("client refused: too many clients", "limit", s.cfg.MaxClientConns)
		cs.fatal(pgerror.New(pgerror.TooManyConnections, "sorry, too many clients already").
			WithHint("The router serves at most %d clients (limits.max_client_conns).", s.cfg.MaxClientConns))
		return false
	}
	return true
}

// Clients is the number of client connections past their startup message
// (the count limits.max_client_conns bounds).
func (s *Server) Clients() int { return int(s.clients.Load()) }

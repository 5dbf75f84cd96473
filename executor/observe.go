package executor

import "log/slog"

// SetLogger gives the session the logger of its client (with the client's
// session id), used for every line the session logs.
func (s *Session) SetLogger(l *slog.Logger) { s.log = l }

// logger is the session's logger.
func (s *Session) logger() *slog.Logger {
	if s.log != nil {
		return s.log
	}
	return s.cfg.Logger
}

// nodeFailed reports a backend connection lost to an I/O error.
func (s *Session) nodeFailed(c *conn, err error) {
	if s.cfg.NodeFailed != nil {
		s.cfg.NodeFailed(c.cluster, c.url, err)
	}
}

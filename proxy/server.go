package proxy

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sqlrouter/sqlrouter/executor"
	"github.com/sqlrouter/sqlrouter/planner"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// Config configures the front end. The zero value accepts any user
// without a password.
type Config struct {
	// Auth says how clients authenticate.
	Auth AuthConfig
	// TLS, when it names a certificate, encrypts client connections.
	TLS TLSConfig
	// MaxMessageSize bounds one client message (default 64 MiB): a client
	// cannot make the router allocate more.
	MaxMessageSize int
	// StartupTimeout bounds the startup handshake and authentication
	// (default 15 s), so clients that never finish cannot pile up.
	StartupTimeout time.Duration
	// Logger receives the front end's logs (default: discard). Each
	// session logs with its session id, client address, user and
	// database.
	Logger *slog.Logger
	// MaxClientConns bounds the client connections past their startup
	// message (0: no bound); beyond it a client is refused with 53300.
	MaxClientConns int
	// MaxStatementTime bounds a request (a Query, or an extended-protocol
	// batch to its Sync): past it the request is cancelled on every
	// backend and fails with 57014 (0: no bound).
	MaxStatementTime time.Duration
	// Stats, when set, receives the clients' counters.
	Stats *ClientStats
}

// Deps are the parts of the router a front end drives.
type Deps struct {
	Planner  *planner.Planner
	Executor *executor.Config
	// Snapshot returns the current shard map, nil before the first one.
	Snapshot func() *shardmap.Snapshot
}

// Server accepts client connections and serves them.
type Server struct {
	cfg   Config
	deps  Deps
	auth  *authenticator
	certs *certificates // nil without TLS

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	sessions  map[uint32]*clientSession // by BackendKeyData process id
	closing   atomic.Bool
	wg        sync.WaitGroup
	// panics counts sessions ended by a panic.
	panics atomic.Int64
	// testHook, set by tests only, sees every message of a session.
	testHook func(msg pgproto3.FrontendMessage)
	// clients counts the connections past their startup message.
	clients atomic.Int64
	stats   *ClientStats
}

// Panics is the number of client sessions a bug ended (each got XX000).
func (s *Server) Panics() int64 { return s.panics.Load() }

// NewServer makes a front end.
func NewServer(cfg Config, deps Deps) (*Server, error) {
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = 64 << 20
	}
	if cfg.StartupTimeout <= 0 {
		cfg.StartupTimeout = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	auth, err := newAuthenticator(cfg.Auth)
	if err != nil {
		return nil, err
	}
	certs, err := newCertificates(cfg.TLS, cfg.Logger)
	if err != nil {
		return nil, err
	}
	stats := cfg.Stats
	if stats == nil {
		stats = &ClientStats{}
	}
	return &Server{
		stats:     stats,
		cfg:       cfg,
		deps:      deps,
		auth:      auth,
		certs:     certs,
		listeners: map[net.Listener]struct{}{},
		conns:     map[net.Conn]struct{}{},
		sessions:  map[uint32]*clientSession{},
	}, nil
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("proxy: server closed")

// Serve accepts connections on ln until Shutdown or a listener error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		if !s.track(nc) {
			nc.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(nc)
			s.serveConn(nc)
		}()
	}
}

func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[nc] = struct{}{}
	return true
}

func (s *Server) untrack(nc net.Conn) {
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
	nc.Close()
}

// register gives a session its cancel key.
func (s *Server) register(cs *clientSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		var b [4]byte
		rand.Read(b[:])
		pid := binary.BigEndian.Uint32(b[:]) &^ (1 << 31) // positive, like a PID
		if _, taken := s.sessions[pid]; pid == 0 || taken {
			continue
		}
		cs.pid = pid
		cs.secret = make([]byte, 4)
		rand.Read(cs.secret)
		s.sessions[pid] = cs
		return
	}
}

func (s *Server) unregister(cs *clientSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[cs.pid] == cs {
		delete(s.sessions, cs.pid)
	}
}

func (s *Server) lookup(pid uint32) *clientSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[pid]
}

// Sessions is the number of client sessions now open.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *Server) String() string { return fmt.Sprintf("proxy(%d sessions)", s.Sessions()) }

package router

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/breaker"
	"github.com/sqlrouter/sqlrouter/executor"
	"github.com/sqlrouter/sqlrouter/pgerror"
)

// dialer opens backend sessions with the configured credentials: it caps
// the connections to each server, retries failed connection attempts with
// exponential backoff and jitter, keeps each server's circuit breaker
// informed and refuses at once to connect to a server whose breaker is
// open. It reports its connections as pools (executor.PoolReporter).
type dialer struct {
	cfg      BackendConfig
	max      int
	breakers *breaker.Set
	stats    *executor.Stats
	// role names a server's role in the current shard map.
	role   func(cluster, url string) string
	logger *slog.Logger

	mu   sync.Mutex
	open map[string]*openCount // by URL
}

// openCount is the connections open to one server.
type openCount struct {
	cluster, role string
	n             int
}

func newDialer(cfg BackendConfig, maxPerNode int, breakers *breaker.Set, stats *executor.Stats, role func(cluster, url string) string, logger *slog.Logger) *dialer {
	return &dialer{cfg: cfg, max: maxPerNode, breakers: breakers, stats: stats, role: role, logger: logger, open: map[string]*openCount{}}
}

// credentials returns the user and password for a cluster ("" keeps the
// URL's).
func (d *dialer) credentials(cluster string) (string, string) {
	user, password := d.cfg.User, d.cfg.Password
	if c, ok := d.cfg.Clusters[cluster]; ok {
		if c.User != "" {
			user = c.User
		}
		if c.Password != "" {
			password = c.Password
		}
	}
	return user, password
}

// connectPlain opens a plain pgconn session, for the recovery of prepared
// transactions, the monitoring of replicas and the breakers' probes. It
// makes one attempt.
func (d *dialer) connectPlain(ctx context.Context, cluster, url string) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	if user, password := d.credentials(cluster); user != "" || password != "" {
		if user != "" {
			cfg.User = user
		}
		if password != "" {
			cfg.Password = password
		}
	}
	cfg.ConnectTimeout = d.cfg.ConnectTimeout
	cfg.Fallbacks = nil
	return pgconn.ConnectConfig(ctx, cfg)
}

// probe connects to a server and disconnects: the half-open probe of its
// circuit breaker.
func (d *dialer) probe(ctx context.Context, cluster, url string) error {
	c, err := d.connectPlain(ctx, cluster, url)
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

// Dial implements executor.Dialer.
func (d *dialer) Dial(ctx context.Context, cluster, url string, params map[string]string) (*backend.Conn, error) {
	if err := d.breakers.Allow(url); err != nil {
		return nil, err
	}
	role := d.role(cluster, url)
	d.mu.Lock()
	oc := d.open[url]
	if oc == nil {
		oc = &openCount{}
		d.open[url] = oc
	}
	oc.cluster, oc.role = cluster, role
	if oc.n >= d.max {
		d.mu.Unlock()
		return nil, pgerror.New(pgerror.TooManyConnections, "too many connections to cluster %s: the router's limit is %d per server (pool.max_conns_per_node)", cluster, d.max)
	}
	oc.n++
	d.mu.Unlock()
	release := sync.OnceFunc(func() {
		d.mu.Lock()
		oc.n--
		d.mu.Unlock()
	})
	user, password := d.credentials(cluster)
	opts := backend.DialOptions{
		URL:            url,
		User:           user,
		Password:       password,
		Params:         params,
		ConnectTimeout: d.cfg.ConnectTimeout,
		OnClose:        release,
	}
	if n := d.stats.Node(cluster, url, role); n != nil {
		opts.Observer = n
	}
	c, err := d.attempts(ctx, cluster, url, func(ctx context.Context) (*backend.Conn, error) { return backend.Dial(ctx, opts) })
	if err != nil {
		release()
		return nil, err
	}
	return c, nil
}

// attempts runs connect up to backend.connect_attempts times, sleeping
// between attempts an exponentially growing backoff with jitter, while
// the failures are worth retrying. The outcome goes to the breaker.
func (d *dialer) attempts(ctx context.Context, cluster, url string, connect func(context.Context) (*backend.Conn, error)) (*backend.Conn, error) {
	var err error
	for attempt := range d.cfg.ConnectAttempts {
		var c *backend.Conn
		if c, err = connect(ctx); err == nil {
			d.breakers.Success(cluster, url)
			return c, nil
		}
		if !retryable(err) || ctx.Err() != nil || attempt+1 == d.cfg.ConnectAttempts {
			break
		}
		wait := backoff(d.cfg.ConnectBackoff, attempt)
		d.logger.Debug("backend connection failed; retrying", "cluster", cluster, "node", executor.NodeName(url),
			"attempt", attempt+1, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
	if nodeFailure(err) {
		d.breakers.Failure(cluster, url, err)
	}
	return nil, err
}

// backoff is the wait after failed attempt number attempt (from 0): base
// doubled at each attempt, at most 16 × base, of which a random half
// ("equal jitter"), so that sessions failing together do not retry
// together.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base << min(attempt, 4)
	return d/2 + rand.N(d/2+1)
}

// retryable reports whether another connection attempt may succeed: the
// server could not be reached, or said it is starting up, shutting down
// or full. A refusal of the credentials or the database is final.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == pgerror.CannotConnectNow || pe.Code == pgerror.TooManyConnections || pe.Code == pgerror.AdminShutdown
	}
	return true
}

// nodeFailure reports whether a failed connection counts against the
// server's circuit breaker: it could not be reached, or it is not
// accepting sessions. A server that answers with any other error is up.
func nodeFailure(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == pgerror.CannotConnectNow || pe.Code == pgerror.AdminShutdown
	}
	return true
}

// PoolStats implements executor.PoolReporter: every server the router has
// connected to, with its open connections in use (each belongs to a
// client session).
func (d *dialer) PoolStats() []executor.PoolStats {
	d.mu.Lock()
	out := make([]executor.PoolStats, 0, len(d.open))
	for url, oc := range d.open {
		out = append(out, executor.PoolStats{Cluster: oc.cluster, Node: executor.NodeName(url), Role: oc.role, InUse: oc.n, Max: d.max})
	}
	d.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cluster != out[j].Cluster {
			return out[i].Cluster < out[j].Cluster
		}
		return out[i].Node < out[j].Node
	})
	return out
}

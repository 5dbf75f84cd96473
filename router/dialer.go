package router

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/breaker"
	"github.com/sqlrouter/sqlrouter/executor"
	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/pool"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// dialer opens backend sessions with the configured credentials: it
// retries failed connection attempts with exponential backoff and
// jitter, keeps each server's circuit breaker informed and refuses at once
// to connect to a server whose breaker is open. (The pool caps the
// connections to each server.)
type dialer struct {
	cfg      BackendConfig
	breakers *breaker.Set
	stats    *executor.Stats
	// role names a server's role in the current shard map.
	role   func(cluster, url string) string
	logger *slog.Logger
}

func newDialer(cfg BackendConfig, breakers *breaker.Set, stats *executor.Stats, role func(cluster, url string) string, logger *slog.Logger) *dialer {
	return &dialer{cfg: cfg, breakers: breakers, stats: stats, role: role, logger: logger}
}

// login is how the router logs in to one cluster's servers.
type login struct {
	user, password string
	// settings override the URL's libpq parameters (TLS).
	settings map[string]string
}

// login returns the user, password and TLS settings for a cluster (""
// keeps the URL's).
func (d *dialer) login(cluster string) login {
	c := d.cfg.cluster(cluster)
	l := login{user: cmp.Or(c.User, d.cfg.User), password: cmp.Or(c.Password, d.cfg.Password)}
	for _, kv := range [][3]string{
		{"sslmode", c.SSLMode, d.cfg.SSLMode},
		{"sslrootcert", c.SSLRootCert, d.cfg.SSLRootCert},
		{"sslcert", c.SSLCert, d.cfg.SSLCert},
		{"sslkey", c.SSLKey, d.cfg.SSLKey},
	} {
		if v := cmp.Or(kv[1], kv[2]); v != "" {
			if l.settings == nil {
				l.settings = map[string]string{}
			}
			l.settings[kv[0]] = v
		}
	}
	return l
}

// connectPlain opens a plain pgconn session, for the recovery of prepared
// transactions and the monitoring of replicas.
func (d *dialer) connectPlain(ctx context.Context, cluster, url string) (*pgconn.PgConn, error) {
	l := d.login(cluster)
	cfg, err := backend.ParseURL(url, l.settings)
	if err != nil {
		return nil, err
	}
	if l.user != "" {
		cfg.User = l.user
	}
	if l.password != "" {
		cfg.Password = l.password
	}
	cfg.ConnectTimeout = d.cfg.ConnectTimeout
	cfg.RuntimeParams["application_name"] = "sqlrouter-monitor"
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

// connect opens a backend session for the pool, unless the server's
// breaker is open.
func (d *dialer) connect(ctx context.Context, key pool.Key) (*backend.Conn, error) {
	if err := d.breakers.Allow(key.URL); err != nil {
		return nil, err
	}
	l := d.login(key.Cluster)
	opts := backend.DialOptions{
		URL:      key.URL,
		User:     l.user,
		Password: l.password,
		Settings: l.settings,
		// What pg_stat_activity shows for pooled sessions of clients
		// that name no application (RESET ALL returns to it).
		Params:         map[string]string{"application_name": "sqlrouter"},
		ConnectTimeout: d.cfg.ConnectTimeout,
	}
	if n := d.stats.Node(key.Cluster, key.URL, d.role(key.Cluster, key.URL)); n != nil {
		opts.Observer = n
	}
	return d.attempts(ctx, key.Cluster, key.URL, func(ctx context.Context) (*backend.Conn, error) { return backend.Dial(ctx, opts) })
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

// poolReporter shows the connection pool as executor.PoolStats, naming
// each server's cluster and role from the current shard map.
type poolReporter struct {
	pool  *pool.Pool[*backend.Conn]
	store *shardmap.Store
	max   int
}

// PoolStats implements executor.PoolReporter.
func (p poolReporter) PoolStats() []executor.PoolStats {
	role := nodeRole(p.store)
	snap := p.store.Current()
	var out []executor.PoolStats
	for _, st := range p.pool.Stats() {
		cluster := clusterOf(snap, st.URL)
		out = append(out, executor.PoolStats{Cluster: cluster, Node: executor.NodeName(st.URL), Role: role(cluster, st.URL),
			InUse: st.InUse, Idle: st.Idle, Waiting: st.Waiting, Max: p.max})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cluster != out[j].Cluster {
			return out[i].Cluster < out[j].Cluster
		}
		return out[i].Node < out[j].Node
	})
	return out
}

// clusterOf names the cluster a server belongs to in snap ("coordinator"
// for the coordinator, "" when the map no longer has it).
func clusterOf(snap *shardmap.Snapshot, url string) string {
	if snap == nil {
		return ""
	}
	if url == snap.Map.Coordinator {
		return "coordinator"
	}
	for name, c := range snap.Map.Clusters {
		if c.Primary == url || slices.ContainsFunc(c.Replicas, func(r shardmap.Replica) bool { return r.URL == url }) {
			return name
		}
	}
	return ""
}

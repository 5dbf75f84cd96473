package router

import (
	"cmp"
	"context"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/pgerror"
)

// dialer opens backend sessions with the configured credentials and caps
// the connections to each server.
type dialer struct {
	cfg BackendConfig
	max int

	mu   sync.Mutex
	open map[string]int // by URL
}

func newDialer(cfg BackendConfig, maxPerNode int) *dialer {
	return &dialer{cfg: cfg, max: maxPerNode, open: map[string]int{}}
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
	return pgconn.ConnectConfig(ctx, cfg)
}

// Dial implements executor.Dialer.
func (d *dialer) Dial(ctx context.Context, cluster, url string, params map[string]string) (*backend.Conn, error) {
	d.mu.Lock()
	if d.open[url] >= d.max {
		d.mu.Unlock()
		return nil, pgerror.New(pgerror.TooManyConnections, "too many connections to cluster %s: the router's limit is %d per server (pool.max_conns_per_node)", cluster, d.max)
	}
	d.open[url]++
	d.mu.Unlock()
	release := sync.OnceFunc(func() {
		d.mu.Lock()
		d.open[url]--
		d.mu.Unlock()
	})
	l := d.login(cluster)
	c, err := backend.Dial(ctx, backend.DialOptions{
		URL:            url,
		User:           l.user,
		Password:       l.password,
		Settings:       l.settings,
		Params:         params,
		ConnectTimeout: d.cfg.ConnectTimeout,
		OnClose:        release,
	})
	if err != nil {
		release()
		return nil, err
	}
	return c, nil
}

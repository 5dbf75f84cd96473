package router

import (
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
// transactions and the monitoring of replicas.
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
	user, password := d.credentials(cluster)
	c, err := backend.Dial(ctx, backend.DialOptions{
		URL:            url,
		User:           user,
		Password:       password,
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

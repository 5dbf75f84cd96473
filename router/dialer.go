package router

import (
	"context"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/pool"
)

// dialer opens backend sessions with the configured credentials.
type dialer struct {
	cfg BackendConfig
}

func newDialer(cfg BackendConfig) *dialer {
	return &dialer{cfg: cfg}
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
	cfg.RuntimeParams["application_name"] = "sqlrouter-monitor"
	cfg.Fallbacks = nil
	return pgconn.ConnectConfig(ctx, cfg)
}

// connect opens a backend session for the pool.
func (d *dialer) connect(ctx context.Context, key pool.Key) (*backend.Conn, error) {
	user, password := d.credentials(key.Cluster)
	return backend.Dial(ctx, backend.DialOptions{
		URL:      key.URL,
		User:     user,
		Password: password,
		// What pg_stat_activity shows for pooled sessions of clients
		// that name no application (RESET ALL returns to it).
		Params:         map[string]string{"application_name": "sqlrouter"},
		ConnectTimeout: d.cfg.ConnectTimeout,
	})
}

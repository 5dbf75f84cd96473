package router

import (
	"cmp"
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

// connect opens a backend session for the pool.
func (d *dialer) connect(ctx context.Context, key pool.Key) (*backend.Conn, error) {
	l := d.login(key.Cluster)
	return backend.Dial(ctx, backend.DialOptions{
		URL:      key.URL,
		User:     l.user,
		Password: l.password,
		Settings: l.settings,
		// What pg_stat_activity shows for pooled sessions of clients
		// that name no application (RESET ALL returns to it).
		Params:         map[string]string{"application_name": "sqlrouter"},
		ConnectTimeout: d.cfg.ConnectTimeout,
	})
}

package router

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// ConnectBackend opens a plain session on a node of a cluster with the
// configured backend credentials, for tools that work on the clusters
// directly (sqlrouter reference sync).
func ConnectBackend(ctx context.Context, cfg BackendConfig, cluster, url string) (*pgconn.PgConn, error) {
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	c, err := newDialer(cfg, nil, nil, nil, nil).connectPlain(ctx, cluster, url)
	if err == nil {
		c.Exec(ctx, "SET application_name = 'sqlrouter-tools'").ReadAll()
	}
	return c, err
}

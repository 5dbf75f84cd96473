package pooltest

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/router"
)

// BenchmarkCheckout compares a point read through the package's router
// (transaction pooling: a pool checkout and release per statement) with
// the same read through a router in session pooling (the connection stays
// with the client): the difference is what checkout costs on the hot
// path.
func BenchmarkCheckout(b *testing.B) {
	ctx := context.Background()
	cfg := router.Config{Listen: "127.0.0.1:0", Etcd: router.EtcdConfig{Endpoints: stack.Deployment.Etcd.Endpoints(), Key: stack.MapKey}}
	cfg.Pool.Mode = "session"
	sessionRouter, err := router.Start(ctx, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sessionRouter.Shutdown(sctx)
	}()
	if err := sessionRouter.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	id := keyOn(b, "s0")
	for _, tc := range []struct{ name, addr string }{
		{"transaction", stack.Router.Addr()},
		{"session", sessionRouter.Addr()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			host, port, _ := net.SplitHostPort(tc.addr)
			c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://app@%s/app?sslmode=disable", net.JoinHostPort(host, port)))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(ctx)
			var n int
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.QueryRow(ctx, "SELECT count(*) FROM customers WHERE id = $1", id).Scan(&n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

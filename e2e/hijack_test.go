package e2e

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// hijacked logs in with dsn (and extra startup parameters) through pgconn,
// so that TLS and the password exchange are done, then hands over the
// connection to speak the protocol by hand. It is closed when the test
// ends.
func hijacked(t testing.TB, dsn string, params map[string]string) (net.Conn, *pgproto3.Frontend) {
	t.Helper()
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range params {
		cfg.RuntimeParams[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("startup on %s: %v", cfg.Host, err)
	}
	hc, err := pc.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	hc.Conn.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { hc.Conn.Close() })
	return hc.Conn, hc.Frontend
}

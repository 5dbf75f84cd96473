package e2e

import (
	"testing"

	"github.com/jackc/pgx/v5"
)

// BenchmarkLogin measures a whole login through the router (connect,
// startup, authentication, the default cluster's backend session, one
// SELECT 1, close): in plain text without a password, and with TLS and
// SCRAM-SHA-256 (the embedded default), with and without channel binding.
func BenchmarkLogin(b *testing.B) {
	trust := startRouter(b, nil)
	verify := withParams(b, stack.RouterDSN(), "sslmode", "verify-full", "sslrootcert", stack.CertFile)
	for _, bc := range []struct{ name, dsn string }{
		{"plain-trust", dsnFor(trust, "app", "")},
		{"tls-scram", withParams(b, verify, "channel_binding", "disable")},
		{"tls-scram-plus", withParams(b, verify, "channel_binding", "require")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				c, err := pgx.Connect(ctxT(b), bc.dsn)
				if err != nil {
					b.Fatal(err)
				}
				var one int
				if err := c.QueryRow(ctxT(b), "SELECT 1").Scan(&one); err != nil {
					b.Fatal(err)
				}
				c.Close(ctxT(b))
			}
		})
	}
}

// BenchmarkSelectOne measures one single-shard round trip on an open
// session, in plain text and over TLS.
func BenchmarkSelectOne(b *testing.B) {
	for _, bc := range []struct{ name, dsn string }{
		{"plain", withParams(b, stack.RouterDSN(), "sslmode", "disable")},
		{"tls", stack.RouterDSN()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := pgx.Connect(ctxT(b), bc.dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(ctxT(b))
			id := keyOn(b, "s0")
			var n int
			for b.Loop() {
				if err := c.QueryRow(ctxT(b), "SELECT count(*) FROM customers WHERE id = $1", id).Scan(&n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

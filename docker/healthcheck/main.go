// Command sqlrouter-healthcheck tells a container runtime whether a router
// is ready to serve: it logs in through the router and runs SELECT 1, and
// exits 0 when that works, 1 (with the reason on stderr) when it does not.
//
// It is the health check of the router service in docker/compose.yaml,
// built into the router image next to sqlrouter (the image has no shell
// and no psql). A plain TCP check is not enough: the router listens before
// it has loaded a shard map (clients get 57P03 until then), and it says so
// only after authentication, so with passwords pg_isready (which takes a
// password request as a sign of life) cannot tell either.
//
// The connection URL is the first argument, else $SQLROUTER_HEALTHCHECK_URL,
// else postgres://healthcheck@127.0.0.1:6432/postgres?sslmode=disable
// (enough for a router with trust authentication and no user list).
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// defaultURL is used when neither an argument nor the environment says.
const defaultURL = "postgres://healthcheck@127.0.0.1:6432/postgres?sslmode=disable"

// timeout bounds the whole check, below Docker's default of 30 s.
const timeout = 5 * time.Second

func main() {
	url := os.Getenv("SQLROUTER_HEALTHCHECK_URL")
	if len(os.Args) > 1 {
		url = os.Args[1]
	}
	if url == "" {
		url = defaultURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := check(ctx, url); err != nil {
		fmt.Fprintln(os.Stderr, "sqlrouter-healthcheck:", err)
		cancel()
		os.Exit(1)
	}
}

// check logs in with url and runs SELECT 1, which the router sends to the
// default cluster: a router passes once it has a shard map, accepts the
// credentials and reaches that cluster.
func check(ctx context.Context, url string) error {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("connection URL: %w", err)
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT 1").ReadAll(); err != nil {
		return fmt.Errorf("SELECT 1: %w", err)
	}
	return nil
}

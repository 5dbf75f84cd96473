// Package e2e tests sqlrouter end to end: real PostgreSQL primaries and
// streaming replicas, a real etcd, the router, and real clients (pgx and
// the psql binary), all in one shared stack for the package.
package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/devstack"
)

var stack *devstack.Stack

func TestMain(m *testing.M) {
	os.Exit(devstack.RunTests(m, devstack.Options{Shards: 2, Replicas: 1}, &stack))
}

// connect opens a pgx connection to the router, closed when the test ends.
func connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, stack.RouterDSN())
	if err != nil {
		t.Fatalf("connect to router: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// connectMode opens a router connection using one of pgx's query modes.
func connectMode(t testing.TB, mode pgx.QueryExecMode) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(stack.RouterDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = mode
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to router: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// primary opens a direct connection to a cluster's primary.
func primary(t testing.TB, cluster string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, stack.Info().Clusters[cluster].Primary)
	if err != nil {
		t.Fatalf("connect to %s primary: %v", cluster, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

package localdeploy

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables that turn the test binary into a helper process.
const (
	envOrphanHelper   = "LOCALDEPLOY_TEST_ORPHAN_DIR"
	envTemplateHelper = "LOCALDEPLOY_TEST_TEMPLATE"
)

// shared is the deployment RunTests starts for this package, as other
// packages do: one shard without replicas, and etcd.
var shared *Deployment

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(envOrphanHelper) != "":
		os.Exit(runOrphanHelper(os.Getenv(envOrphanHelper)))
	case os.Getenv(envTemplateHelper) != "":
		os.Exit(runTemplateHelper())
	}
	os.Exit(RunTests(m, Options{Shards: 1, Replicas: None, Etcd: true}, &shared))
}

// testContext returns a context that ends with the test or after a minute.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// queryValue runs sql on dsn and returns the single value as text.
func queryValue(ctx context.Context, t *testing.T, dsn, sql string, args ...any) string {
	t.Helper()
	v, err := tryQueryValue(ctx, dsn, sql, args...)
	if err != nil {
		t.Fatalf("%s on %s: %v", sql, dsn, err)
	}
	return v
}

func tryQueryValue(ctx context.Context, dsn, sql string, args ...any) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var v any
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		return "", err
	}
	return fmt.Sprint(v), nil
}

// execSQL runs sql on dsn.
func execSQL(ctx context.Context, t *testing.T, dsn, sql string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s on %s: %v", sql, dsn, err)
	}
}

package crashtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// testContext ends with the test or after d.
func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// connect opens a pgx connection, closed when the test ends.
func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// connectRouter opens a connection to the router.
func connectRouter(t testing.TB, r *routerProc) *pgx.Conn { return connect(t, r.DSN()) }

// connectPrimary opens a connection straight to a cluster's primary.
func connectPrimary(t testing.TB, cluster string) *pgx.Conn { return connect(t, primaryDSN(cluster)) }

// primaryDSN is the connection string of a cluster's primary.
func primaryDSN(cluster string) string {
	for _, c := range dep.Clusters {
		if c.Name == cluster {
			return c.Primary.DSN("app")
		}
	}
	panic("no cluster " + cluster)
}

// onPrimaries calls fn with a new connection to each primary in cluster
// order, closing it afterwards (for checks that poll).
func onPrimaries(ctx context.Context, t testing.TB, fn func(cluster string, c *pgx.Conn)) {
	t.Helper()
	for _, cl := range dep.Clusters {
		c, err := pgx.Connect(ctx, cl.Primary.DSN("app"))
		if err != nil {
			t.Fatal(err)
		}
		fn(cl.Name, c)
		c.Close(ctx)
	}
}

// queryInts runs a query returning one bigint column on a server.
func queryInts(ctx context.Context, t testing.TB, dsn, sql string) []int64 {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, sql)
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// mustExec runs sql through c and fails the test on error.
func mustExec(ctx context.Context, t testing.TB, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s %v: %v", sql, args, err)
	}
}

// execAll runs each statement through c, failing the test on an error.
func execAll(ctx context.Context, t testing.TB, c *pgx.Conn, sqls ...string) {
	t.Helper()
	for _, sql := range sqls {
		mustExec(ctx, t, c, sql)
	}
}

// sqlstate is the SQLSTATE of a server error, "" for anything else.
func sqlstate(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// statement_timeout and cancel stop every cluster's part of a statement
// that runs on several clusters.
func TestTimeoutAndCancelStopEveryCluster(t *testing.T) {
	c := connect(t)
	for range 4 {
		mustExec(t, c, "INSERT INTO customers (id, name) VALUES ($1, 'sleepy')", newKey())
	}
	mustExec(t, c, "SET statement_timeout = '200ms'")
	began := time.Now()
	_, err := c.Exec(ctxT(t), "SELECT pg_sleep(5) FROM customers WHERE name = 'sleepy' ORDER BY id")
	if sqlstate(err) != "57014" {
		t.Errorf("statement_timeout on a scatter: %v, want 57014", err)
	}
	if time.Since(began) > 4*time.Second {
		t.Errorf("the timeout took %v", time.Since(began))
	}
	mustExec(t, c, "RESET statement_timeout")

	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(context.Background(), "SELECT count(*) FROM customers WHERE name = 'sleepy' AND pg_sleep(5) IS NOT NULL")
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := c.PgConn().CancelRequest(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if sqlstate(err) != "57014" {
			t.Errorf("canceled aggregate: %v, want 57014", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("cancel did not stop the clusters' parts")
	}
	var one int
	if err := c.QueryRow(ctxT(t), "SELECT 1").Scan(&one); err != nil {
		t.Errorf("session after cancel: %v", err)
	}
}

// A cluster that fails fails the whole statement with its error.
func TestOneFailingClusterFailsTheStatement(t *testing.T) {
	c := connect(t)
	bad := keyOn(t, "s1")
	mustExec(t, c, "INSERT INTO customers (id, name, country) VALUES ($1, 'zero', '0')", bad)
	mustExec(t, c, "INSERT INTO customers (id, name, country) VALUES ($1, 'one', '1')", keyOn(t, "s0"))
	for _, sql := range []string{
		"SELECT id, 1 / country::int FROM customers WHERE name IN ('zero', 'one')",
		"SELECT id, 1 / country::int FROM customers WHERE name IN ('zero', 'one') ORDER BY id",
		"SELECT sum(1 / country::int) FROM customers WHERE name IN ('zero', 'one')",
		"SELECT c.id FROM customers c JOIN countries k ON k.code <> c.country WHERE 1 / c.country::int > 0 AND c.name IN ('zero', 'one')",
	} {
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
			rows, err := c.Query(ctxT(t), sql, mode)
			if err == nil {
				for rows.Next() {
				}
				err = rows.Err()
			}
			if sqlstate(err) != "22012" {
				t.Errorf("%v %s: %v, want 22012 from s1", mode, sql, err)
			}
		}
	}
	mustExec(t, c, fmt.Sprintf("DELETE FROM customers WHERE id = %d", bad))
}

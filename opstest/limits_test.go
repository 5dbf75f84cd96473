package opstest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// sleepers counts the backends of every server of the deployment that run
// pg_sleep: a statement cancelled everywhere leaves none.
func sleepers(t *testing.T) int {
	t.Helper()
	n := 0
	for _, cl := range stack.Deployment.Clusters {
		for _, dsn := range append([]string{cl.Primary.DSN("app")}, cl.Replicas[0].DSN("app")) {
			var k int
			err := direct(t, dsn).QueryRow(ctxT(t),
				"SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(%' AND state = 'active' AND pid <> pg_backend_pid()").Scan(&k)
			if err != nil {
				t.Fatal(err)
			}
			n += k
		}
	}
	return n
}

// twoClusterSleep inserts a customer on each cluster and returns a read
// that sleeps long on both.
func twoClusterSleep(t *testing.T, c *pgx.Conn) string {
	t.Helper()
	k0, k1 := keyOn(t, "s0"), keyOn(t, "s1")
	if _, err := c.Exec(ctxT(t), "INSERT INTO customers (id, name) VALUES ($1, 'sleep'), ($2, 'sleep')", k0, k1); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("SELECT id, pg_sleep(60) FROM customers WHERE id IN (%d, %d)", k0, k1)
}

// sleepersStop fails the test unless every pg_sleep(60) of the test stops
// soon after the client got its cancel error: the part of the statement
// that failed first returns the error, the others are being cancelled
// meanwhile; one that is never cancelled sleeps on past the limit.
func sleepersStop(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n := sleepers(t); n != 0; n = sleepers(t) {
		if time.Now().After(deadline) {
			t.Errorf("%d backends still sleep 10 s after the cancel", n)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// statement_timeout is a session setting like any other: replayed on the
// backends, it cancels a statement on both clusters with the server's own
// 57014, and the session goes on.
func TestStatementTimeoutPassesThrough(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t, nil)
	sleep := twoClusterSleep(t, c)
	if _, err := c.Exec(ctx, "SET statement_timeout = '300ms'"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Exec(ctx, sleep)
	if sqlstate(err) != "57014" || !strings.Contains(err.Error(), "statement timeout") {
		t.Fatalf("sleep under statement_timeout: %v, want 57014 canceling statement due to statement timeout", err)
	}
	sleepersStop(t)
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("the session after the timeout: %d, %v", one, err)
	}
}

// limits.max_statement_time cancels a statement on every cluster it
// reached, with 57014 saying why; the session goes on, in and out of a
// transaction.
func TestMaxStatementTime(t *testing.T) {
	ctx := ctxT(t)
	// 2 s: long enough for every part to have reached its server before
	// the cancel, even on a loaded machine (a server that has not read its
	// query yet discards a cancel, as it would a client's).
	r := startRouter(t, nil, func(c *routerConfig) { c.Limits.MaxStatementTime = 2 * time.Second })
	c := connect(t, r)
	sleep := twoClusterSleep(t, connect(t, nil))
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		_, err := c.Exec(ctx, sleep, mode)
		if sqlstate(err) != "57014" || !strings.Contains(err.Error(), "limits.max_statement_time = 2s") {
			t.Fatalf("sleep past max_statement_time (%v): %v, want 57014 naming limits.max_statement_time", mode, err)
		}
		sleepersStop(t)
		var one int
		if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("the session after the cancel: %d, %v", one, err)
		}
	}
	// In a transaction, the cancel fails the transaction as in PostgreSQL.
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, sleep); sqlstate(err) != "57014" {
		t.Fatalf("sleep in a transaction: %v", err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); sqlstate(err) != "25P02" {
		t.Fatalf("after the cancel in a transaction: %v, want 25P02", err)
	}
	tx.Rollback(ctx)
	if v, _ := value(scrape(t, r), "sqlrouter_statements_timed_out_total"); v != 3 {
		t.Errorf("statements_timed_out_total = %v, want 3", v)
	}
	// A short statement is left alone.
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}

// Past limits.max_client_conns, a client is refused with 53300 as
// PostgreSQL says it; when one leaves, another gets in. A cancel request
// still gets through to a full router.
func TestMaxClientConns(t *testing.T) {
	ctx := ctxT(t)
	r := startRouter(t, nil, func(c *routerConfig) { c.Limits.MaxClientConns = 2 })
	a := connect(t, r)
	b, err := pgx.Connect(ctx, dsn(r))
	if err != nil {
		t.Fatal(err)
	}
	_, err = pgx.Connect(ctx, dsn(r))
	if sqlstate(err) != "53300" || !strings.Contains(err.Error(), "sorry, too many clients already") {
		t.Fatalf("third client: %v, want 53300 sorry, too many clients already", err)
	}
	// A is busy; its cancel request is not a client and is served.
	done := make(chan error, 1)
	go func() {
		_, err := a.Exec(ctx, "SELECT pg_sleep(60)")
		done <- err
	}()
	waitFor(t, "the sleep to start", func() bool { return sleepers(t) == 1 })
	if err := a.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; sqlstate(err) != "57014" {
		t.Fatalf("cancelled sleep: %v", err)
	}
	b.Close(ctx)
	waitFor(t, "the router to count the client gone", func() bool {
		c, err := pgx.Connect(ctx, dsn(r))
		if err != nil {
			return false
		}
		c.Close(context.Background())
		return true
	})
	if v, _ := value(scrape(t, r), "sqlrouter_client_rejected_total"); v < 1 {
		t.Errorf("client_rejected_total = %v", v)
	}
}

// A statement cancelled by max time while it waits for a backend session
// (the pool is full) never starts its part there once one frees up: a
// cancel that went out before the part started would miss it, and the
// part would run to its end.
func TestMaxStatementTimeCancelsPartsNotStarted(t *testing.T) {
	ctx := ctxT(t)
	r := startRouter(t, nil, func(c *routerConfig) {
		c.Limits.MaxStatementTime = 2 * time.Second
		c.Pool.MaxConnsPerNode = 1
		c.Pool.AcquireTimeout = 30 * time.Second
	})
	sleep := twoClusterSleep(t, connect(t, nil))
	// Another client holds s1's only session in a transaction.
	holder := connect(t, r)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT count(*) FROM customers WHERE id = $1", keyOn(t, "s1")); err != nil {
		t.Fatal(err)
	}
	c := connect(t, r)
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, sleep, pgx.QueryExecModeSimpleProtocol)
		done <- err
	}()
	time.Sleep(3 * time.Second) // past max time, still waiting for s1
	tx.Commit(ctx)
	select {
	case err := <-done:
		if sqlstate(err) != "57014" || !strings.Contains(err.Error(), "limits.max_statement_time") {
			t.Errorf("sleep past max time while waiting for a session: %v, want 57014 naming limits.max_statement_time", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the statement ran on after its max time: a part started after the cancel")
	}
	sleepersStop(t)
}

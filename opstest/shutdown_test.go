package opstest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A graceful shutdown: the router stops taking clients; an idle session
// leaves at once with 57P01; a transaction in flight goes on and commits,
// then its session leaves with 57P01; a session still in a transaction
// when the drain ends is terminated with 57P01 and its transaction rolls
// back. /readyz says so from the start.
func TestGracefulShutdown(t *testing.T) {
	ctx := ctxT(t)
	r := startRouter(t, nil, nil)
	idle := connect(t, r)
	committer := connect(t, r)
	straggler := connect(t, r)
	kc, ks := keyOn(t, "s1"), keyOn(t, "s1")
	tx, err := committer.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'committed')", kc); err != nil {
		t.Fatal(err)
	}
	stx, err := straggler.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stx.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'rolled back')", ks); err != nil {
		t.Fatal(err)
	}

	drain, endDrain := context.WithCancel(ctx)
	defer endDrain()
	stopped := make(chan error, 1)
	go func() { stopped <- r.Shutdown(drain) }()

	// The idle session leaves; the two in transactions stay.
	waitFor(t, "the idle session to leave", func() bool { return r.Sessions() == 2 })
	if _, err := idle.Exec(ctx, "SELECT 1"); sqlstate(err) != "57P01" {
		t.Errorf("idle session after shutdown began: %v, want 57P01", err)
	}
	if code, body := get(t, endpoint(r, "/readyz")); code != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		t.Errorf("GET /readyz while draining: %d %q", code, body)
	}
	if _, err := connect1(ctx, r); err == nil {
		t.Error("a new client got in during the drain")
	}

	// The transaction in flight finishes.
	if _, err := tx.Exec(ctx, "UPDATE customers SET name = 'committed twice' WHERE id = $1", kc); err != nil {
		t.Fatalf("a statement of the transaction in flight: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("COMMIT during the drain: %v", err)
	}
	waitFor(t, "the committed session to leave", func() bool { return r.Sessions() == 1 })
	if _, err := committer.Exec(ctx, "SELECT 1"); sqlstate(err) != "57P01" {
		t.Errorf("the committer's next statement: %v, want 57P01", err)
	}

	// The drain ends: the straggler is terminated.
	endDrain()
	if err := <-stopped; !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v, want the drain context's error", err)
	}
	if _, err := stx.Exec(ctx, "SELECT 1"); sqlstate(err) != "57P01" {
		t.Errorf("the straggler's next statement: %v, want 57P01", err)
	}
	primary := direct(t, stack.Deployment.Cluster("s1").Primary.DSN("app"))
	rows, _ := primary.Query(ctx, "SELECT name FROM customers WHERE id IN ($1, $2)", kc, ks)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "committed twice" {
		t.Errorf("rows after the shutdown: %q, want only the committed one", names)
	}
}

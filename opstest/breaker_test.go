package opstest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/executor"
)

// A stopped primary makes /readyz answer 503 (its health checks fail) and
// opens its circuit breaker: writes to its cluster fail fast with 08006
// naming the breaker, reads that may use a replica still
// work, /readyz, /metrics and SHOW sqlrouter.clusters say so; after the
// restart, a probe closes the breaker and writes work again.
func TestBreakerOpensWhenAPrimaryStopsAndClosesAfterRestart(t *testing.T) {
	ctx := ctxT(t)
	r := startRouter(t, nil, func(c *routerConfig) {
		c.Breaker.Threshold = 2
		c.Breaker.Cooldown = 200 * time.Millisecond
		c.Backend.ConnectAttempts = 1
	})
	c := connect(t, r)
	k := keyOn(t, "s1")
	if _, err := c.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'before')", k); err != nil {
		t.Fatal(err)
	}
	// The replica has the row before the primary goes.
	waitFor(t, "the row on s1's replica", func() bool {
		var n int
		direct(t, stack.Deployment.Cluster("s1").Replicas[0].DSN("app")).QueryRow(ctx, "SELECT count(*) FROM customers WHERE id = $1", k).Scan(&n)
		return n == 1
	})
	primary := stack.Deployment.Cluster("s1").Primary
	node := executor.NodeName(primary.DSN("app"))
	if err := primary.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			primary.Restart(ctxT(t))
		}
	})
	// Before any statement needs it, the health checks see it down.
	waitFor(t, "/readyz to report the primary down", func() bool {
		code, body := get(t, endpoint(r, "/readyz"))
		return code == http.StatusServiceUnavailable && strings.Contains(body, "cluster s1: primary "+node+": ") && strings.Contains(body, "health checks failed in a row")
	})

	// The session's connection is lost, the next connects fail: the
	// breaker opens at the second failure, and writes fail fast.
	var err error
	for range 5 {
		_, err = c.Exec(ctx, "UPDATE customers SET name = 'during' WHERE id = $1", k)
		if err == nil {
			t.Fatal("a write to a stopped primary succeeded")
		}
		if strings.Contains(err.Error(), "circuit breaker open for "+node) {
			break
		}
	}
	if sqlstate(err) != "08006" || !strings.Contains(err.Error(), "could not connect to cluster s1: circuit breaker open for "+node) {
		t.Fatalf("write with the primary stopped: %v, want 08006 naming the open breaker", err)
	}
	// A read that may use the replica does.
	var name string
	if err := c.QueryRow(ctx, "/* sqlrouter.read_consistency=eventual */ SELECT name FROM customers WHERE id = $1", k).Scan(&name); err != nil || name != "before" {
		t.Errorf("eventual read with the primary's breaker open: %q, %v", name, err)
	}
	labels := []string{"cluster", "s1", "node", node, "role", "primary"}
	if v, _ := value(scrape(t, r), "sqlrouter_breaker_state", labels...); v == 0 {
		t.Errorf("breaker_state%v = 0 with the primary stopped", labels)
	}
	if v, _ := value(scrape(t, r), "sqlrouter_breaker_opened_total", labels...); v < 1 {
		t.Errorf("breaker_opened_total%v = %v", labels, v)
	}
	if code, body := get(t, endpoint(r, "/readyz")); code != http.StatusServiceUnavailable || !strings.Contains(body, "cluster s1: primary "+node+": circuit breaker") {
		t.Errorf("GET /readyz with the primary stopped: %d %q", code, body)
	}
	_, rows := view(t, c, pgx.QueryExecModeCacheStatement, "sqlrouter.clusters")
	for _, row := range rows {
		if row[0] == "s1" && row[2] == "primary" && row[6] == "closed" {
			t.Errorf("SHOW sqlrouter.clusters with the primary stopped: %v", row)
		}
	}

	if err := primary.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	waitFor(t, "a write to work after the restart", func() bool {
		_, err := c.Exec(ctx, "UPDATE customers SET name = 'after' WHERE id = $1", k)
		return err == nil
	})
	waitFor(t, "the breaker to close and /readyz to answer 200", func() bool {
		v, _ := value(scrape(t, r), "sqlrouter_breaker_state", labels...)
		code, _ := get(t, endpoint(r, "/readyz"))
		return v == 0 && code == http.StatusOK
	})
}

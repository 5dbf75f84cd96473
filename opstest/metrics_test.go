package opstest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/executor"
)

// lastRoute reads where the session's previous statement ran:
// cluster:role:host:port.
func lastRoute(t testing.TB, c *pgx.Conn) (cluster, role, node string) {
	t.Helper()
	var route string
	if err := c.QueryRow(ctxT(t), "SHOW sqlrouter.last_route").Scan(&route); err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(route, ":", 3)
	if len(parts) != 3 || strings.Contains(route, ",") {
		t.Fatalf("last_route %q: want one node", route)
	}
	return parts[0], parts[1], parts[2]
}

// Statements through the router show in /metrics: per cluster and per
// node, errors by SQLSTATE at the client and at the node that raised
// them, rows moved by a read across clusters, the plan cache, sessions,
// pools, replica health and breakers. Counters are compared before and
// after, so the test is exact whatever ran before.
func TestMetricsCountStatements(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t, nil)
	k0, k1 := keyOn(t, "s0"), keyOn(t, "s1")
	if _, err := c.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'a'), ($2, 'b')", k0, k1); err != nil {
		t.Fatal(err)
	}
	// A single-cluster read, strong so that it runs on s1's primary.
	before := scrape(t, stack.Router)
	var name string
	if err := c.QueryRow(ctx, "/* sqlrouter.read_consistency=strong */ SELECT name FROM customers WHERE id = $1", k1).Scan(&name); err != nil {
		t.Fatal(err)
	}
	cluster, role, node := lastRoute(t, c)
	if cluster != "s1" || role != "primary" {
		t.Fatalf("the read ran on %s %s", cluster, role)
	}
	// A read across both clusters, merged at the router: one row each
	// (on the primaries too: a replica may not have the rows yet).
	rows, err := c.Query(ctx, "/* sqlrouter.read_consistency=strong */ SELECT id FROM customers WHERE id = ANY($1) ORDER BY id", []int64{k0, k1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(got) != 2 {
		t.Fatalf("cross-cluster read: %v, %v", got, err)
	}
	// An error raised by a server, and one raised by the router.
	// (A text never seen before: a plan cache miss.)
	if _, err := c.Exec(ctx, fmt.Sprintf("/* sqlrouter.read_consistency=strong */ SELECT 1 / 0 FROM customers WHERE id = $1 -- %d", k1), k1); sqlstate(err) != "22012" {
		t.Fatalf("division by zero: %v", err)
	}
	if _, err := c.Exec(ctx, "PREPARE p AS SELECT 1"); sqlstate(err) != "0A000" {
		t.Fatalf("PREPARE: %v", err)
	}
	after := scrape(t, stack.Router)

	delta := func(name string, labels ...string) float64 {
		a, _ := value(after, name, labels...)
		b, _ := value(before, name, labels...)
		return a - b
	}
	nodeLabels := []string{"cluster", "s1", "node", node, "role", "primary"}
	for _, check := range []struct {
		name   string
		labels []string
		want   float64
	}{
		// SHOW sqlrouter.last_route runs in the router: only the read, the
		// division and the cross-cluster read reach s1.
		{"sqlrouter_cluster_statements_total", []string{"cluster", "s1"}, 3},
		{"sqlrouter_cluster_statements_total", []string{"cluster", "s0"}, 1},
		{"sqlrouter_node_statements_total", nodeLabels, 3},
		{"sqlrouter_backend_errors_total", append(nodeLabels, "sqlstate", "22012"), 1},
		{"sqlrouter_client_errors_total", []string{"sqlstate", "22012"}, 1},
		{"sqlrouter_client_errors_total", []string{"sqlstate", "0A000"}, 1},
		{"sqlrouter_rows_moved_total", []string{"cluster", "s0"}, 1},
		{"sqlrouter_rows_moved_total", []string{"cluster", "s1"}, 1},
	} {
		if d := delta(check.name, check.labels...); d != check.want {
			t.Errorf("%s%v grew by %v, want %v", check.name, check.labels, d, check.want)
		}
	}
	for _, grows := range []struct {
		name   string
		labels []string
	}{
		{"sqlrouter_client_request_duration_seconds", nil},
		{"sqlrouter_backend_request_duration_seconds", nodeLabels},
		{"sqlrouter_plan_cache_misses_total", nil},
	} {
		if d := delta(grows.name, grows.labels...); d <= 0 {
			t.Errorf("%s%v did not grow", grows.name, grows.labels)
		}
	}
	// The same text again is a plan cache hit (Exec without arguments is
	// a simple Query each time).
	hits, _ := value(after, "sqlrouter_plan_cache_hits_total")
	c.Exec(ctx, "SELECT 42")
	c.Exec(ctx, "SELECT 42")
	if h, _ := value(scrape(t, stack.Router), "sqlrouter_plan_cache_hits_total"); h <= hits {
		t.Errorf("plan cache hits %v, then %v after a repeated text", hits, h)
	}

	// Gauges: this session, its connection to s1's primary, every node up
	// with its breaker closed, and the replicas' lag.
	if v, _ := value(after, "sqlrouter_client_sessions"); v < 1 {
		t.Errorf("client_sessions = %v", v)
	}
	// Between statements the session holds no connection (transaction
	// pooling): the one it used waits in the pool.
	inUse, _ := value(after, "sqlrouter_pool_connections", append(nodeLabels, "state", "in_use")...)
	idle, _ := value(after, "sqlrouter_pool_connections", append(nodeLabels, "state", "idle")...)
	if inUse+idle < 1 {
		t.Errorf("pool_connections on s1's primary: %v in use, %v idle", inUse, idle)
	}
	for _, cl := range stack.Deployment.Clusters {
		for i, n := range append([]string{cl.Primary.DSN("")}, cl.Replicas[0].DSN("")) {
			role := "primary"
			if i > 0 {
				role = "replica"
			}
			labels := []string{"cluster", cl.Name, "node", executor.NodeName(n), "role", role}
			if v, ok := value(after, "sqlrouter_node_up", labels...); !ok || v != 1 {
				t.Errorf("node_up%v = %v, %v", labels, v, ok)
			}
			if v, ok := value(after, "sqlrouter_breaker_state", labels...); !ok || v != 0 {
				t.Errorf("breaker_state%v = %v, %v", labels, v, ok)
			}
			if _, ok := value(after, "sqlrouter_replica_lag_seconds", labels[:4]...); ok != (role == "replica") {
				t.Errorf("replica_lag_seconds%v present: %v", labels[:4], ok)
			}
		}
	}
	if _, ok := value(after, "go_goroutines"); !ok {
		t.Error("no Go runtime metrics")
	}
}

// /healthz answers while the process runs; /readyz when the router has a
// shard map, reaches etcd and sees every primary up.
func TestHealthEndpoints(t *testing.T) {
	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\n"} {
		if code, body := get(t, endpoint(stack.Router, path)); code != http.StatusOK || body != want {
			t.Errorf("GET %s: %d %q, want 200 %q", path, code, body, want)
		}
	}
}

// A router whose etcd key holds no shard map is not ready, and becomes
// ready when a map is stored there.
func TestReadyzWaitsForTheShardMap(t *testing.T) {
	ctx := ctxT(t)
	key := fmt.Sprintf("/opstest/%s/shardmap", t.Name())
	r := startRouter(t, nil, func(c *routerConfig) { c.Etcd.Key = key })
	code, body := get(t, endpoint(r, "/readyz"))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no shard map loaded (etcd key "+key+")") {
		t.Fatalf("GET /readyz without a map: %d %q", code, body)
	}
	if code, _ := get(t, endpoint(r, "/healthz")); code != http.StatusOK {
		t.Errorf("GET /healthz without a map: %d", code)
	}
	doc, err := stack.Router.Snapshot().Map.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := applyMap(ctx, key, doc); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/readyz to answer 200", func() bool {
		code, _ := get(t, endpoint(r, "/readyz"))
		return code == http.StatusOK
	})
	stack.Etcd.Delete(ctx, key)
}

// Go's profiler is served on the metrics listener only when
// metrics.pprof asks for it.
func TestPprofOnlyWhenAsked(t *testing.T) {
	for _, on := range []bool{false, true} {
		r := startRouter(t, nil, func(c *routerConfig) { c.Metrics.Pprof = on })
		code, body := get(t, endpoint(r, "/debug/pprof/"))
		if served := code == http.StatusOK && strings.Contains(body, "goroutine"); served != on {
			t.Errorf("metrics.pprof = %v: GET /debug/pprof/ answered %d", on, code)
		}
	}
}

// Package opstest tests what an operator relies on, with real servers and
// clients: the Prometheus metrics and health endpoints, the admin SHOW
// views, structured session logs, circuit breakers with a primary stopped
// and restarted, the statement time limit, the client limit, graceful
// shutdown, and the cancelling of statements whose client went away. Two
// clusters with one replica each, one stack for the package; tests that
// need other limits start their own router on the same deployment.
package opstest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sqlrouter/sqlrouter/devstack"
	"github.com/sqlrouter/sqlrouter/router"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

var stack *devstack.Stack

func TestMain(m *testing.M) {
	// Plain text and trust, as the extra routers the tests start: these
	// tests are about operations, not login.
	os.Exit(devstack.RunTests(m, devstack.Options{Shards: 2, Replicas: 1, PlainText: true, Trust: true, Router: func(c *router.Config) {
		c.Replication.PollInterval = 100 * time.Millisecond
	}}, &stack))
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startRouter starts another router on the stack's deployment, with the
// stack's configuration changed by adjust; it is shut down when the test
// ends.
func startRouter(t testing.TB, logger *slog.Logger, adjust func(*router.Config)) *router.Router {
	t.Helper()
	cfg := router.Config{
		Listen:      "127.0.0.1:0",
		Etcd:        router.EtcdConfig{Endpoints: stack.Deployment.Etcd.Endpoints(), Key: stack.MapKey},
		Metrics:     router.MetricsConfig{Listen: "127.0.0.1:0"},
		Replication: router.ReplicationConfig{PollInterval: 100 * time.Millisecond},
	}
	if adjust != nil {
		adjust(&cfg)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r, err := router.Start(ctxT(t), cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		r.Shutdown(ctx) // a second Shutdown (after the test's own) returns at once
	})
	if cfg.Etcd.Key == stack.MapKey {
		if err := r.WaitReady(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// dsn is a connection string for router r.
func dsn(r *router.Router) string {
	return "postgres://app@" + r.Addr() + "/" + devstack.Database + "?sslmode=disable"
}

// connect opens a connection to router r (the stack's when nil), closed
// when the test ends; params are extra startup parameters.
func connect(t testing.TB, r *router.Router, params ...string) *pgx.Conn {
	t.Helper()
	if r == nil {
		r = stack.Router
	}
	return direct(t, dsn(r), params...)
}

// direct opens a connection to a server (or a router), closed when the
// test ends; params are extra startup parameters.
func direct(t testing.TB, dsn string, params ...string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(params); i += 2 {
		cfg.RuntimeParams[params[i]] = params[i+1]
	}
	c, err := pgx.ConnectConfig(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("connect to %s: %v", dsn, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// sqlstate is the SQLSTATE of a server's error, "" for another error.
func sqlstate(err error) string {
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// keyOn returns a fresh customer id the shard map places on cluster.
func keyOn(t testing.TB, cluster string) int64 {
	t.Helper()
	k, err := stack.KeyOn(cluster)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// get fetches an URL of a monitoring listener: status code and body.
func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// endpoint is the URL of path on r's monitoring listener.
func endpoint(r *router.Router, path string) string {
	return strings.TrimSuffix(r.MetricsURL(), "/metrics") + path
}

// scrape reads r's /metrics.
func scrape(t testing.TB, r *router.Router) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, r.MetricsURL())
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// value is the value of the sample of family name whose labels include
// labels (name=value pairs), and whether there is one. Histograms give
// their sample count.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// routerConfig is router.Config, for short.
type routerConfig = router.Config

// applyMap stores a shard map document under key.
func applyMap(ctx context.Context, key string, doc []byte) (int64, error) {
	return shardmap.Apply(ctx, stack.Etcd, key, doc)
}

// connect1 opens a connection to router r for a test that closes it.
func connect1(ctx context.Context, r *router.Router) (*pgx.Conn, error) {
	return pgx.Connect(ctx, dsn(r))
}

package router

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sqlrouter/sqlrouter/breaker"
	"github.com/sqlrouter/sqlrouter/executor"
)

// etcdCheckTimeout bounds the etcd read of a readiness check.
const etcdCheckTimeout = 2 * time.Second

// NotReady returns why the router should not get new clients, nil when it
// is ready. It is ready when it is not shutting down, has a shard map,
// reaches etcd (a serializable read of the shard map key, which any etcd
// member answers) and no cluster's primary is known to be down: its
// circuit breaker is not open or half-open, and its last health check
// (replication.poll_interval) did not fail.
func (r *Router) NotReady(ctx context.Context) []string {
	var why []string
	if r.shuttingDown.Load() {
		why = append(why, "shutting down")
	}
	if r.store.Current() == nil {
		why = append(why, "no shard map loaded (etcd key "+r.cfg.Etcd.Key+")")
	}
	ectx, cancel := context.WithTimeout(ctx, etcdCheckTimeout)
	_, err := r.etcd.Get(ectx, r.cfg.Etcd.Key, clientv3.WithSerializable(), clientv3.WithCountOnly())
	cancel()
	if err != nil {
		why = append(why, fmt.Sprintf("etcd unreachable: %v", err))
	}
	for _, n := range r.nodes() {
		if n.role != executor.RolePrimary {
			continue
		}
		name := executor.NodeName(n.url)
		if n.breaker.State != breaker.Closed {
			why = append(why, fmt.Sprintf("cluster %s: primary %s: circuit breaker %s", n.cluster, name, n.breaker.State))
		} else if n.state() == "down" {
			why = append(why, fmt.Sprintf("cluster %s: primary %s: %d health checks failed in a row: %v", n.cluster, name, n.status.Failures, n.status.LastError))
		}
	}
	return why
}

// monitoring serves /metrics, /healthz and /readyz.
func (r *Router) monitoring() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{r}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{r}}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, req *http.Request) {
		why := r.NotReady(req.Context())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if len(why) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:\n"+strings.Join(why, "\n"))
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

// slogPrinter passes promhttp's errors to the router's log.
type slogPrinter struct{ r *Router }

func (p slogPrinter) Println(v ...any) { p.r.logger.Error("metrics: " + fmt.Sprint(v...)) }

// startMonitoring listens on metrics.listen.
func (r *Router) startMonitoring() error {
	if r.cfg.Metrics.Listen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", r.cfg.Metrics.Listen)
	if err != nil {
		return fmt.Errorf("metrics.listen: %w", err)
	}
	r.metricsLn = ln
	r.metricsSrv = &http.Server{Handler: r.monitoring(), ReadHeaderTimeout: 10 * time.Second}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.metricsSrv.Serve(ln); err != nil && err != http.ErrServerClosed {
			r.logger.Error("metrics listener failed", "err", err)
		}
	}()
	r.logger.Info("metrics listening", "url", r.MetricsURL())
	return nil
}

// MetricsURL is the URL of the Prometheus endpoint, "" without one.
func (r *Router) MetricsURL() string {
	if r.metricsLn == nil {
		return ""
	}
	return "http://" + r.metricsLn.Addr().String() + "/metrics"
}

package router

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sqlrouter/sqlrouter/breaker"
	"github.com/sqlrouter/sqlrouter/executor"
	"github.com/sqlrouter/sqlrouter/metrics"
)

// collector exposes the router's counters to Prometheus. It reads them at
// each scrape (they are kept by the executor, the front end, the replica
// tracker and the breakers); nothing is counted twice.
type collector struct {
	r *Router
}

// desc makes a metric description with the sqlrouter_ prefix.
func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("sqlrouter_"+name, help, labels, nil)
}

var (
	nodeLabels = []string{"cluster", "node", "role"}

	descInfo          = desc("info", "The router's version and id (always 1).", "version", "router_id")
	descSessions      = desc("client_sessions", "Client sessions open (logged in).")
	descClients       = desc("client_connections", "Client connections past their startup message (the count limits.max_client_conns bounds).")
	descRejected      = desc("client_rejected_total", "Client connections refused by limits.max_client_conns (53300).")
	descClientReq     = desc("client_request_duration_seconds", "Client requests (a Query, or an extended-protocol batch to its Sync) until ReadyForQuery.")
	descClientErrors  = desc("client_errors_total", "Errors sent to clients, by SQLSTATE.", "sqlstate")
	descTimedOut      = desc("statements_timed_out_total", "Requests cancelled by limits.max_statement_time.")
	descAbandoned     = desc("statements_abandoned_total", "Requests cancelled because their client hung up while they ran.")
	descClusterStmts  = desc("cluster_statements_total", "Client statements (or parts of them) sent to each cluster.", "cluster")
	descClusterReads  = desc("cluster_reads_total", "Reads a replica could serve, by the kind of node that served them.", "cluster", "served_by")
	descRowsMoved     = desc("rows_moved_total", "Rows read from a cluster to be merged at the router or gathered at the coordinator.", "cluster")
	descNodeStmts     = desc("node_statements_total", "Client statements (or parts of them) each server served.", nodeLabels...)
	descBackendReq    = desc("backend_request_duration_seconds", "Round trips to each server (a Query or a Sync to its ReadyForQuery).", nodeLabels...)
	descBackendErrors = desc("backend_errors_total", "Errors each server answered, by SQLSTATE.", append(nodeLabels, "sqlstate")...)
	descPoolConns     = desc("pool_connections", "Backend connections to each server, in use or idle.", append(nodeLabels, "state")...)
	descPoolWaiting   = desc("pool_waiting", "Requests waiting for a backend connection to each server.", nodeLabels...)
	descPoolMax       = desc("pool_max_connections", "The most connections the router opens to each server.", nodeLabels...)
	descNodeUp        = desc("node_up", "1 when the server's last health check succeeded, 0 when it failed (absent before the first check).", nodeLabels...)
	descReplicaLag    = desc("replica_lag_seconds", "How long each replica has been behind its primary (precision: one poll interval).", "cluster", "node")
	descBreakerState  = desc("breaker_state", "Each server's circuit breaker: 0 closed, 1 half-open, 2 open.", nodeLabels...)
	descBreakerOpens  = desc("breaker_opened_total", "Times each server's circuit breaker opened.", nodeLabels...)
	descCacheHits     = desc("plan_cache_hits_total", "Statement texts found in the plan cache.")
	descCacheMisses   = desc("plan_cache_misses_total", "Statement texts planned anew.")
	descCacheEntries  = desc("plan_cache_entries", "Plans in the plan cache.")
	descMapRevision   = desc("shardmap_revision", "The etcd revision of the shard map in use (absent before the first).")
)

// Describe implements prometheus.Collector.
func (c collector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	r := c.r
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	histogram := func(d *prometheus.Desc, h *metrics.Histogram, labels ...string) {
		s := h.Snapshot()
		ch <- prometheus.MustNewConstHistogram(d, s.Count, s.Sum, s.Cumulative, labels...)
	}
	gauge(descInfo, 1, Version, r.cfg.RouterID)

	cs := r.clientStats
	gauge(descSessions, float64(r.server.Sessions()))
	gauge(descClients, float64(r.server.Clients()))
	counter(descRejected, float64(cs.Rejected.Load()))
	histogram(descClientReq, &cs.Requests)
	for code, n := range cs.Errors.Snapshot() {
		counter(descClientErrors, float64(n), code)
	}
	counter(descTimedOut, float64(cs.TimedOut.Load()))
	counter(descAbandoned, float64(cs.Abandoned.Load()))

	for _, cl := range r.stats.Snapshot() {
		counter(descClusterStmts, float64(cl.Statements), cl.Cluster)
		counter(descClusterReads, float64(cl.PrimaryReads), cl.Cluster, executor.RolePrimary)
		counter(descClusterReads, float64(cl.ReplicaReads), cl.Cluster, executor.RoleReplica)
		counter(descRowsMoved, float64(cl.RowsMoved), cl.Cluster)
	}
	for _, n := range r.stats.Nodes() {
		labels := []string{n.Cluster, n.Node, n.Role()}
		counter(descNodeStmts, float64(n.Statements.Load()), labels...)
		histogram(descBackendReq, &n.Requests, labels...)
		for code, k := range n.Errors.Snapshot() {
			counter(descBackendErrors, float64(k), append(labels, code)...)
		}
	}
	for _, p := range r.pools.PoolStats() {
		labels := []string{p.Cluster, p.Node, p.Role}
		gauge(descPoolConns, float64(p.InUse), append(labels, "in_use")...)
		gauge(descPoolConns, float64(p.Idle), append(labels, "idle")...)
		gauge(descPoolWaiting, float64(p.Waiting), labels...)
		gauge(descPoolMax, float64(p.Max), labels...)
	}
	for _, n := range r.nodes() {
		labels := []string{n.cluster, executor.NodeName(n.url), n.role}
		switch n.state() {
		case "up":
			gauge(descNodeUp, 1, labels...)
		case "down":
			gauge(descNodeUp, 0, labels...)
		}
		if n.role == executor.RoleReplica && n.tracked {
			gauge(descReplicaLag, n.status.Lag.Seconds(), n.cluster, labels[1])
		}
		gauge(descBreakerState, breakerValue(n.breaker.State), labels...)
		counter(descBreakerOpens, float64(n.breaker.Opens), labels...)
	}

	pc := r.planner.CacheStats()
	counter(descCacheHits, float64(pc.Hits))
	counter(descCacheMisses, float64(pc.Misses))
	gauge(descCacheEntries, float64(pc.Entries))
	if snap := r.store.Current(); snap != nil {
		gauge(descMapRevision, float64(snap.Revision))
	}
}

// breakerValue is a breaker state as the breaker_state gauge shows it.
func breakerValue(s breaker.State) float64 {
	switch s {
	case breaker.HalfOpen:
		return 1
	case breaker.Open:
		return 2
	}
	return 0
}

// Package metrics holds the counters the router's parts update on their
// hot paths: lock-free latency histograms and counts keyed by a code
// (SQLSTATE). It imports nothing of the exposition formats: the router
// reads snapshots of these counters for Prometheus and for SHOW
// sqlrouter.stats.
package metrics

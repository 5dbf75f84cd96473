// Package router assembles a running sqlrouter from its configuration:
// the etcd client and shard-map store, the planner, the executor's backend
// dialer and transaction coordinator, and the wire front end. The command
// line (cmd/sqlrouter) loads a Config and calls Start; tests do the same.
package router

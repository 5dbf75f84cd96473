// Package backend holds the router's connections to PostgreSQL servers (the
// shards' primaries and replicas, and the coordinator).
//
// A Conn is established with pgconn (TLS, authentication, startup
// parameters) and then taken over: from that point the executor speaks the
// wire protocol on it directly, appending frontend messages to a write buffer
// and reading backend messages as raw bytes so that rows can be relayed to a
// client without being decoded. Conn knows nothing about shards or plans.
package backend

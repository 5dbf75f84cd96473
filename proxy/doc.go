// Package proxy is the router's PostgreSQL wire front end: the listener,
// the startup handshake (SSLRequest, GSSENCRequest, CancelRequest,
// protocol negotiation), authentication, and one goroutine per client that
// reads its messages and hands them to the planner and the executor. It
// owns what the protocol keeps per client (prepared statements, the
// cancel key) and knows nothing about shards.
package proxy

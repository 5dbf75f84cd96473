// Package executor runs plans for one client session.
//
// A Session owns the client's backend sessions (one per cluster it has
// used), the client's transaction as it spans clusters, and the response
// pipeline: every message the client will receive, whether relayed from a
// backend or made by the router, is queued in the order the client's
// messages arrived and delivered in that order. Backend results are relayed
// as raw bytes, without decoding rows.
//
// The executor never parses SQL: the planner has done that. It knows the
// wire protocol's rules for transactions (implicit transactions of a
// multi-statement Query and of an extended-protocol batch, explicit blocks,
// the aborted state, savepoints) and reproduces them across clusters.
package executor

// Package replication tracks the shards' streaming replicas and decides
// which node of a cluster serves a read.
//
// It sits below the executor: the executor asks a Tracker to Choose a node
// for each read-only statement, given the session's consistency Level and,
// for read-your-writes, the session's Token (per cluster, the primary's WAL
// position after the session's last writing commit there). The Tracker
// polls every node (primaries for pg_current_wal_lsn(), replicas for
// pg_last_wal_replay_lsn() and lag) on one long-lived monitoring connection
// each, ejects nodes that fail their health checks and re-admits them when
// they answer again, and balances reads among the replicas that qualify.
//
// The hot path is a read whose requirement the cached replica positions
// already satisfy: Choose then makes no query and does not allocate. Only
// when no replica has replayed far enough does it refresh that cluster's
// replica positions on demand, waiting a bounded time before it falls back
// to the primary.
//
// Tokens travel outside the router (ParameterStatus, SHOW, SET, libpq
// options), so their text form is compact, versioned and strictly parsed;
// see Token.Encode.
package replication

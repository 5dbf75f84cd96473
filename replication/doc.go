// Package replication will track the shards' streaming replicas: health,
// replay positions and lag, the choice of node for a read that needs a
// given WAL position, and the read-your-writes token (issue #5). Until it
// lands, every statement runs on the primary of its cluster.
package replication

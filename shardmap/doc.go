// Package shardmap holds the shard map: the user-written document that says
// which PostgreSQL clusters exist, how rows of each table are spread over
// them, and how to find the cluster that owns a key.
//
// Its place in the flow: the proxy and the planner read an immutable
// *Map snapshot (from a Store that watches etcd, or from Load for a file)
// and ask it where a key lives (Distribution.ClusterFor). Nothing here
// talks to PostgreSQL; the etcd store is the only I/O.
//
// The document format is described in shared/SHARDMAP.md and formally in
// schemas/shardmap.schema.json; Parse enforces every rule of that contract
// and reports all problems at once, each with its path in the document.
//
// Hash distributions use PostgreSQL's own extended hash functions with seed
// 0 (hashint8extended, hashtextextended, uuid_hash_extended, ...), so a
// shard can compute in SQL which rows it owns. See pghash.go.
package shardmap

// Package crashtest proves that transactions through sqlrouter are atomic
// across clusters when things die. Its tests build the real sqlrouter
// binary, run it with `sqlrouter serve` against a local deployment (real
// primaries, an embedded etcd), drive it with pgx clients, and kill the
// router (SIGKILL) or a shard primary at random instants; afterwards they
// check the data, not the logs: money is neither created nor lost, every
// acknowledged commit is there, and no prepared transaction is left.
//
// The package holds tests only; see bank_test.go for the workload and its
// invariants.
package crashtest

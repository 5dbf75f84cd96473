// Package devstack is sqlrouter's embedded default: a local deployment
// (embedded etcd, shard clusters with streaming replicas, a coordinator
// Postgres, from package localdeploy), a shard map for it stored in etcd,
// and a router in front. `sqlrouter dev` runs one; integration tests share
// one per test package (RunTests).
package devstack

// Package localdeploy starts and stops real local PostgreSQL servers and an
// embedded etcd, for `sqlrouter dev` and for the integration tests of the
// other packages.
//
// A Deployment is N shard clusters (a primary plus R streaming replicas
// each), an optional scratch "coordinator" Postgres and an optional embedded
// etcd, all listening on 127.0.0.1 only. Every Postgres is copied from one
// initdb template cached under os.TempDir(), runs as a direct child of this
// process (never through pg_ctl) and dies with it: the kernel sends it
// SIGKILL when the thread that started it goes away (Pdeathsig), so a test
// binary that panics or times out leaks no server.
//
// When this process runs as root, servers, initdb and pg_basebackup run as
// the `postgres` OS user, because Postgres refuses to run as root.
//
// The package knows nothing about shard maps or SQL routing: it hands out
// ports, data directories and connection strings.
package localdeploy

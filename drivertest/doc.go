// Package drivertest runs one scenario through sqlrouter with real
// PostgreSQL drivers from several ecosystems: pgx (Go), the psql binary
// (libpq), node-postgres (JavaScript), psycopg (Python) and the PostgreSQL
// JDBC driver (Java). Each logs in over TLS with verify-full and SCRAM,
// runs a prepared statement, a transaction rolled back and one committed
// over two clusters, an error and the recovery from it (inside and outside
// a transaction), and cancels a running statement; every driver must print
// the same lines. Drivers that cannot be installed on this machine are
// skipped with the reason; .ci/run installs them.
package drivertest

// Package txn ends distributed transactions: a plain COMMIT when a client
// transaction touched one cluster, and two-phase commit when it touched
// several: PREPARE TRANSACTION on each, the commit decision recorded
// durably in a DecisionLog (EtcdLog, in etcd) before the first COMMIT
// PREPARED, then COMMIT PREPARED everywhere.
//
// A router crash can leave prepared transactions behind. Recovery finds
// them on every primary (pg_prepared_xacts) and finishes them from the
// decision log: those of its own router that are not in flight, at start
// and periodically, and those of routers that are gone, whose Registry
// lease expired. A transaction without a decision is aborted once it is
// older than a timeout, and the abort is recorded first: a decision is
// written once, so a coordinator that comes back late cannot commit what
// recovery rolled back.
//
// The executor calls Coordinator; the router creates the EtcdLog, the
// Registry registration and the Recovery loop.
package txn

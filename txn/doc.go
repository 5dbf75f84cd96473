// Package txn ends distributed transactions: which clusters a client
// transaction touched, a plain COMMIT when it touched one, and two-phase
// commit (PREPARE TRANSACTION on each, then COMMIT PREPARED) when it touched
// several, with the commit decision recorded through a DecisionLog before
// the first COMMIT PREPARED so that a recovery process can finish the job
// after a crash.
package txn

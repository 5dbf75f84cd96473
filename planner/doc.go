// Package planner turns SQL text into distributed plans.
//
// It parses each statement with pg_query (PostgreSQL's own parser), finds
// the tables the statement touches and how the shard map places them, works
// out from the WHERE clause (or the VALUES of an INSERT) which clusters can
// hold the rows involved, and returns an immutable Plan: run on one cluster,
// run on several, split an INSERT by cluster, or handle in the router
// (transaction control, session settings). Where a key comes from a $n
// parameter the choice is left to Bind time, so one plan serves every
// execution of a prepared statement. A simple-protocol statement is also
// planned by shape (normalize.go, shape.go): texts that differ only in
// their literals are parsed once, and each later one gets, without
// parsing, the very plan its text would get.
//
// The planner does no I/O. Statements it cannot place exactly are refused
// with SQLSTATE 0A000 and a message naming the construct: it never guesses.
package planner

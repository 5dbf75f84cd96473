package proxy

import (
	"sync/atomic"

	"github.com/sqlrouter/sqlrouter/metrics"
)

// ClientStats counts what clients ask and are told. Its zero value is
// ready; it is safe for concurrent use.
type ClientStats struct {
	// Requests times client requests: a Query message, or an
	// extended-protocol batch up to its Sync, until ReadyForQuery.
	Requests metrics.Histogram
	// Errors counts the ErrorResponses sent to clients, by SQLSTATE.
	Errors metrics.CodeCounts
	// Rejected counts connections refused by limits.max_client_conns.
	Rejected atomic.Int64
	// TimedOut counts requests cancelled by limits.max_statement_time.
	TimedOut atomic.Int64
	// Abandoned counts requests cancelled because their client went away.
	Abandoned atomic.Int64
}

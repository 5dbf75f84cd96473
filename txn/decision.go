package txn

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Decision is the outcome of a distributed transaction.
type Decision int

// The decisions a log records.
const (
	Commit Decision = iota + 1
	Abort
)

// String returns "commit" or "abort".
func (d Decision) String() string {
	switch d {
	case Commit:
		return "commit"
	case Abort:
		return "abort"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// MarshalText writes the decision as String does.
func (d Decision) MarshalText() ([]byte, error) {
	if d != Commit && d != Abort {
		return nil, fmt.Errorf("txn: invalid decision %d", int(d))
	}
	return []byte(d.String()), nil
}

// UnmarshalText reads "commit" or "abort".
func (d *Decision) UnmarshalText(b []byte) error {
	switch string(b) {
	case "commit":
		*d = Commit
	case "abort":
		*d = Abort
	default:
		return fmt.Errorf("txn: invalid decision %q", b)
	}
	return nil
}

// ErrDecisionConflict is returned by DecisionLog.Record when the
// transaction already has the other decision: a recovery process aborted
// it first, or its coordinator committed it first.
var ErrDecisionConflict = errors.New("transaction already has the other decision")

// DecisionLog durably records the decisions of distributed transactions,
// by transaction id.
type DecisionLog interface {
	// Record writes d as txid's decision and must not return nil before
	// the decision survives a crash of the router. A decision is written
	// once: when txid already has one, Record writes nothing and returns
	// nil if it is d, an error wrapping ErrDecisionConflict if not. Any
	// other error leaves it unknown whether d was written.
	Record(ctx context.Context, txid string, d Decision, clusters []string) error
	// Forget drops a decision once every participant applied it.
	Forget(ctx context.Context, txid string) error
}

// DecisionStore is a DecisionLog that recovery can read back. EtcdLog is
// one.
type DecisionStore interface {
	DecisionLog
	// Lookup returns txid's decision; found is false when there is none.
	Lookup(ctx context.Context, txid string) (d LoggedDecision, found bool, err error)
	// List returns the decisions recorded at least olderThan ago.
	List(ctx context.Context, olderThan time.Duration) ([]LoggedDecision, error)
}

// LoggedDecision is one decision as a DecisionStore holds it.
type LoggedDecision struct {
	// Txn is the transaction id.
	Txn string `json:"-"`
	// Decision is commit or abort.
	Decision Decision `json:"decision"`
	// Clusters are the participants' clusters.
	Clusters []string `json:"clusters"`
	// Router is the id of the router that recorded the decision: the
	// coordinator for a commit, possibly a recovering router for an abort.
	Router string `json:"router"`
	// Time is when it was recorded, by the recording router's clock.
	Time time.Time `json:"time"`
}

// NoLog is a DecisionLog that keeps nothing: a router crash between
// PREPARE and COMMIT PREPARED leaves prepared transactions for an operator
// to resolve. It is for tests and single-cluster deployments.
type NoLog struct{}

// Record does nothing.
func (NoLog) Record(context.Context, string, Decision, []string) error { return nil }

// Forget does nothing.
func (NoLog) Forget(context.Context, string) error { return nil }

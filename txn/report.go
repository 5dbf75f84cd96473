package txn

import (
	"fmt"
	"log/slog"
)

// Report says what one recovery pass did.
type Report struct {
	// Committed and RolledBack are the GIDs this pass finished. A GID
	// that another process finished first is in neither.
	Committed  []string
	RolledBack []string
	// Left are the prepared transactions this pass saw and did not
	// finish.
	Left []Unresolved
	// Forgotten are the transaction ids whose decision this pass deleted.
	Forgotten []string
}

// Unresolved is a prepared transaction a recovery pass left alone.
type Unresolved struct {
	GID string
	// Reason is one of: "in flight" (this router is committing it),
	// "owner alive" (another live router's), "owner unknown" (the router
	// registry was unreachable), "no decision yet" (younger than
	// NoDecisionTimeout), "busy" (another session is finishing it), or
	// "error: ..." (see the pass's error).
	Reason string
}

// The reasons of Unresolved.
const (
	reasonInFlight     = "in flight"
	reasonOwnerAlive   = "owner alive"
	reasonOwnerUnknown = "owner unknown"
	reasonNoDecision   = "no decision yet"
	reasonBusy         = "busy"
)

// changed reports whether the pass finished or forgot anything.
func (r Report) changed() bool {
	return len(r.Committed)+len(r.RolledBack)+len(r.Forgotten) > 0
}

// LogValue summarizes the report for slog.
func (r Report) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("committed", r.Committed),
		slog.Any("rolled_back", r.RolledBack),
		slog.Int("left", len(r.Left)),
		slog.Any("forgotten", r.Forgotten),
	)
}

func (r *Report) leave(gid, reason string) {
	r.Left = append(r.Left, Unresolved{GID: gid, Reason: reason})
}

func (r *Report) leaveErr(gid string, err error) {
	r.leave(gid, fmt.Sprintf("error: %v", err))
}

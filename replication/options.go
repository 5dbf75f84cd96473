package replication

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Policy balances reads among the replicas that qualify for them.
type Policy int

const (
	// RoundRobin takes the qualifying replicas in turn (the default).
	RoundRobin Policy = iota
	// LeastConnections takes the replica with the fewest uses in flight
	// (counted by Tracker.Acquire), in turn among equals.
	LeastConnections
	// Weighted spreads reads in proportion to Node.Weight, by smooth
	// weighted round robin (as nginx does): over any run of choices among
	// the same replicas, each gets its share within one choice.
	Weighted
)

// String returns the policy's configuration name.
func (p Policy) String() string {
	switch p {
	case RoundRobin:
		return "round_robin"
	case LeastConnections:
		return "least_connections"
	case Weighted:
		return "weighted"
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

// Options configures a Tracker. The zero value works: poll every second
// with pgconn.Connect, round robin, eject after two failed checks.
type Options struct {
	// PollInterval is the time between two checks of a node; 0 means 1 s.
	PollInterval time.Duration
	// CheckTimeout bounds one check, connecting included; 0 means
	// PollInterval, but at least 1 s.
	CheckTimeout time.Duration
	// MaxBackoff caps the delay between checks of a failing node, which
	// doubles from PollInterval once the node is ejected; 0 means
	// 5 × PollInterval.
	MaxBackoff time.Duration
	// Connect opens a monitoring connection to a node's URL (credentials
	// are the caller's business); nil means pgconn.Connect. The Tracker
	// runs plain SELECTs of WAL functions on it, needing no privileges
	// beyond the default (pg_wal_replay_pause is never called).
	Connect func(ctx context.Context, url string) (*pgconn.PgConn, error)
	// Policy balances reads among qualifying replicas; default RoundRobin.
	Policy Policy
	// FailThreshold is the number of consecutive failed checks that eject
	// a node; 0 means 2.
	FailThreshold int
	// Logger receives ejections and re-admissions (Warn, Info) and check
	// errors (Debug); nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock for lag and status timestamps; nil means time.Now.
	Now func() time.Time
}

// withDefaults fills in the zero fields.
func (o Options) withDefaults() Options {
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = max(o.PollInterval, time.Second)
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * o.PollInterval
	}
	if o.Connect == nil {
		o.Connect = pgconn.Connect
	}
	if o.FailThreshold <= 0 {
		o.FailThreshold = 2
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// ParsePolicy reads a policy name as String prints it ("round_robin",
// "least_connections", "weighted"), in any case.
func ParsePolicy(s string) (Policy, error) {
	for _, p := range []Policy{RoundRobin, LeastConnections, Weighted} {
		if strings.EqualFold(s, p.String()) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("replication: invalid load balancing policy %q (expected round_robin, least_connections or weighted)", s)
}

package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
)

// Participant is one cluster's backend session inside a transaction, idle
// between statements.
type Participant interface {
	// Cluster names the participant's cluster.
	Cluster() string
	// Exec runs one command and returns the server's error, if any.
	Exec(ctx context.Context, sql string) error
}

// Decision is the outcome of a distributed transaction.
type Decision int

// The decisions a log records.
const (
	Commit Decision = iota + 1
	Abort
)

// DecisionLog durably records commit decisions. Record must not return
// before the decision survives a crash of the router.
type DecisionLog interface {
	Record(ctx context.Context, gid string, d Decision, clusters []string) error
	// Forget drops a decision once every participant applied it.
	Forget(ctx context.Context, gid string) error
}

// NoLog is a DecisionLog that keeps nothing: a router crash between
// PREPARE and COMMIT PREPARED leaves prepared transactions for an operator
// (or a later recovery) to resolve.
type NoLog struct{}

// Record does nothing.
func (NoLog) Record(context.Context, string, Decision, []string) error { return nil }

// Forget does nothing.
func (NoLog) Forget(context.Context, string) error { return nil }

// Coordinator runs commits and rollbacks. Its zero value is not usable; make
// one with NewCoordinator.
type Coordinator struct {
	routerID string
	log      DecisionLog
	logger   *slog.Logger
	seq      atomic.Uint64
}

// NewCoordinator makes a coordinator whose transaction ids carry routerID,
// so that several routers never resolve each other's transactions.
func NewCoordinator(routerID string, log DecisionLog, logger *slog.Logger) *Coordinator {
	if log == nil {
		log = NoLog{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Coordinator{routerID: routerID, log: log, logger: logger}
}

// GIDPrefix is how every prepared transaction id of this router starts.
func (c *Coordinator) GIDPrefix() string { return "sqlr_" + c.routerID + "_" }

// ErrCommitFailed wraps the participant error that made a distributed
// commit roll back.
var ErrCommitFailed = errors.New("distributed commit failed")

// Commit commits the participants' transactions atomically: one
// participant with a plain COMMIT, several with two-phase commit. When it
// returns an error nothing was committed anywhere.
func (c *Coordinator) Commit(ctx context.Context, ps []Participant) error {
	switch len(ps) {
	case 0:
		return nil
	case 1:
		return ps[0].Exec(ctx, "COMMIT")
	}
	gid := fmt.Sprintf("%s%d", c.GIDPrefix(), c.seq.Add(1))
	gids := make([]string, len(ps))
	for i, p := range ps {
		gids[i] = gid + "_" + p.Cluster()
	}
	errs := parallel(ps, func(i int, p Participant) error {
		return p.Exec(ctx, "PREPARE TRANSACTION "+quote(gids[i]))
	})
	if failed := firstError(errs); failed != nil {
		// A participant whose PREPARE failed has rolled back; undo the
		// ones that prepared.
		parallel(ps, func(i int, p Participant) error {
			if errs[i] != nil {
				return nil
			}
			if err := p.Exec(ctx, "ROLLBACK PREPARED "+quote(gids[i])); err != nil {
				c.logger.Error("rollback of prepared transaction failed; it stays prepared until resolved", "gid", gids[i], "cluster", p.Cluster(), "err", err)
			}
			return nil
		})
		return failed
	}
	clusters := make([]string, len(ps))
	for i, p := range ps {
		clusters[i] = p.Cluster()
	}
	if err := c.log.Record(ctx, gid, Commit, clusters); err != nil {
		parallel(ps, func(i int, p Participant) error {
			p.Exec(ctx, "ROLLBACK PREPARED "+quote(gids[i]))
			return nil
		})
		return fmt.Errorf("%w: recording the commit decision: %v", ErrCommitFailed, err)
	}
	// The decision is durable: the transaction is committed, whatever
	// happens to the COMMIT PREPARED messages below.
	var incomplete atomic.Bool
	parallel(ps, func(i int, p Participant) error {
		if err := p.Exec(ctx, "COMMIT PREPARED "+quote(gids[i])); err != nil {
			incomplete.Store(true)
			c.logger.Error("COMMIT PREPARED failed; the transaction is committed and recovery will finish it", "gid", gids[i], "cluster", p.Cluster(), "err", err)
		}
		return nil
	})
	if !incomplete.Load() {
		if err := c.log.Forget(ctx, gid); err != nil {
			c.logger.Warn("forgetting a commit decision failed", "gid", gid, "err", err)
		}
	}
	return nil
}

// Rollback rolls back every participant; it returns the first error.
func (c *Coordinator) Rollback(ctx context.Context, ps []Participant) error {
	return firstError(parallel(ps, func(_ int, p Participant) error { return p.Exec(ctx, "ROLLBACK") }))
}

func parallel(ps []Participant, fn func(int, Participant) error) []error {
	errs := make([]error, len(ps))
	if len(ps) == 1 {
		errs[0] = fn(0, ps[0])
		return errs
	}
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i, p)
		}()
	}
	wg.Wait()
	return errs
}

func firstError(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

package txn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// Participant is one cluster's backend session inside a transaction, idle
// between statements.
type Participant interface {
	// Cluster names the participant's cluster.
	Cluster() string
	// Exec runs one command and returns the server's error, if any.
	Exec(ctx context.Context, sql string) error
}

// SQLSTATEs of the errors Commit raises itself.
const (
	transactionRollback          = "40000"
	transactionResolutionUnknown = "08007"
)

// How long the steps after PREPARE may take. They run on a context
// detached from the caller's: a client that goes away in the middle must
// not leave a transaction half decided.
const (
	recordTimeout = 5 * time.Second
	finishTimeout = 30 * time.Second
)

// ErrCommitFailed wraps the errors of a distributed commit that rolled
// back: nothing was committed anywhere.
var ErrCommitFailed = errors.New("distributed commit failed")

// ErrCommitUnknown wraps the error of a distributed commit whose decision
// could not be settled (the decision log was unreachable): the prepared
// transactions stay prepared and recovery commits or rolls them back.
var ErrCommitUnknown = errors.New("outcome of the distributed commit is unknown")

// Coordinator runs commits and rollbacks. Its zero value is not usable; make
// one with NewCoordinator.
type Coordinator struct {
	routerID string
	idErr    error // ValidRouterID(routerID)
	epoch    string
	log      DecisionLog
	logger   *slog.Logger
	seq      atomic.Uint64
	inFlight inFlightSet
}

// NewCoordinator makes a coordinator whose transaction ids carry routerID
// (see ValidRouterID), so that several routers never resolve each other's
// transactions, and an epoch of this process, so that a restarted router
// never reuses a GID. With an invalid routerID, commits across clusters
// fail.
func NewCoordinator(routerID string, log DecisionLog, logger *slog.Logger) *Coordinator {
	if log == nil {
		log = NoLog{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Coordinator{routerID: routerID, idErr: ValidRouterID(routerID), epoch: newEpoch(), log: log, logger: logger}
}

// RouterID returns the router id the coordinator's GIDs carry.
func (c *Coordinator) RouterID() string { return c.routerID }

// GIDPrefix is how every prepared transaction id of this router starts.
func (c *Coordinator) GIDPrefix() string { return gidPrefix + c.routerID + "." }

// InFlight reports whether the transaction is being committed by this
// coordinator right now: from before its first PREPARE until Commit
// returns. Recovery must leave such a transaction alone.
func (c *Coordinator) InFlight(txid string) bool { return c.inFlight.contains(txid) }

// Commit commits the participants' transactions atomically: one
// participant with a plain COMMIT, several with two-phase commit. An error
// wrapping ErrCommitUnknown means the outcome is not known yet (recovery
// settles it); any other error means nothing was committed anywhere.
func (c *Coordinator) Commit(ctx context.Context, ps []Participant) error {
	switch len(ps) {
	case 0:
		return nil
	case 1:
		return ps[0].Exec(ctx, "COMMIT")
	}
	txid, gids, clusters, err := c.name(ps)
	if err != nil {
		c.Rollback(context.WithoutCancel(ctx), ps)
		return fmt.Errorf("%w: %w", ErrCommitFailed, err)
	}
	c.inFlight.add(txid)
	defer c.inFlight.remove(txid)

	errs := parallel(ps, func(i int, p Participant) error {
		return p.Exec(ctx, "PREPARE TRANSACTION "+quote(gids[i]))
	})
	detached := context.WithoutCancel(ctx)
	if firstError(errs) != nil {
		return c.prepareFailed(detached, txid, ps, gids, clusters, errs)
	}
	d, err := c.decide(detached, txid, clusters)
	if err != nil {
		c.logger.Error("commit decision unknown; the transaction stays prepared until recovery resolves it", "txn", txid, "err", err)
		return fmt.Errorf("%w: %w", ErrCommitUnknown, pgerror.New(transactionResolutionUnknown,
			"the outcome of the distributed commit is unknown: the commit decision could not be recorded (%v); it will be resolved by recovery", err))
	}
	if d == Abort {
		c.rollbackPrepared(detached, ps, gids, nil)
		return fmt.Errorf("%w: %w", ErrCommitFailed, pgerror.New(transactionRollback,
			"distributed commit failed: transaction %s was aborted before its commit decision was recorded", txid))
	}
	// The decision is durable: the transaction is committed, whatever
	// happens to the COMMIT PREPARED messages below.
	fctx, cancel := context.WithTimeout(detached, finishTimeout)
	defer cancel()
	var incomplete atomic.Bool
	parallel(ps, func(i int, p Participant) error {
		if err := p.Exec(fctx, "COMMIT PREPARED "+quote(gids[i])); err != nil {
			incomplete.Store(true)
			c.logger.Error("COMMIT PREPARED failed; the transaction is committed and recovery will finish it", "gid", gids[i], "cluster", p.Cluster(), "err", err)
		}
		return nil
	})
	if !incomplete.Load() {
		if err := c.log.Forget(fctx, txid); err != nil {
			c.logger.Warn("forgetting a commit decision failed; recovery will", "txn", txid, "err", err)
		}
	}
	return nil
}

// prepareFailed undoes a commit whose PREPAREs did not all succeed and
// returns the error for the client. A participant that answered with an
// error has rolled back; the ones that prepared are rolled back here. A
// participant whose answer was lost (the connection broke, the context
// ended) may have prepared all the same, or may yet: the abort is
// recorded for it, so that recovery rolls it back at its next pass
// instead of after NoDecisionTimeout, with its rows locked meanwhile.
func (c *Coordinator) prepareFailed(ctx context.Context, txid string, ps []Participant, gids, clusters []string, errs []error) error {
	var serverErr, lost error
	lostCluster := ""
	for i, err := range errs {
		switch {
		case err == nil:
		case pgerror.Code(err) != "":
			serverErr = cmp.Or(serverErr, err)
		case lost == nil:
			lost, lostCluster = err, ps[i].Cluster()
		}
	}
	if lost != nil {
		rctx, cancel := context.WithTimeout(ctx, recordTimeout)
		if err := c.log.Record(rctx, txid, Abort, clusters); err != nil {
			c.logger.Warn("recording the abort of a transaction whose PREPARE got no answer failed; recovery rolls it back after the no-decision timeout", "txn", txid, "err", err)
		}
		cancel()
	}
	c.rollbackPrepared(ctx, ps, gids, errs)
	if serverErr != nil {
		return fmt.Errorf("%w: %w", ErrCommitFailed, serverErr)
	}
	return fmt.Errorf("%w: %w", ErrCommitFailed, pgerror.New(transactionRollback,
		"distributed commit failed: no answer from cluster %s to PREPARE TRANSACTION (%v); the transaction is rolled back everywhere", lostCluster, lost))
}

// name gives the transaction its id and each participant its GID.
func (c *Coordinator) name(ps []Participant) (txid string, gids, clusters []string, err error) {
	if c.idErr != nil {
		return "", nil, nil, c.idErr
	}
	txid = txnID(c.routerID, c.epoch, c.seq.Add(1))
	gids = make([]string, len(ps))
	clusters = make([]string, len(ps))
	for i, p := range ps {
		clusters[i] = p.Cluster()
		if gids[i], err = participantGID(txid, p.Cluster()); err != nil {
			return "", nil, nil, err
		}
	}
	return txid, gids, clusters, nil
}

// decide records the commit decision and returns the decision that holds.
// When Record fails without saying why, the commit may or may not have
// been written: recording Abort in its place settles it either way, since
// a decision is written once. An error means neither attempt answered.
func (c *Coordinator) decide(ctx context.Context, txid string, clusters []string) (Decision, error) {
	record := func(d Decision) error {
		ctx, cancel := context.WithTimeout(ctx, recordTimeout)
		defer cancel()
		return c.log.Record(ctx, txid, d, clusters)
	}
	err := record(Commit)
	switch {
	case err == nil:
		return Commit, nil
	case errors.Is(err, ErrDecisionConflict):
		return Abort, nil // recovery gave up on the transaction first
	}
	c.logger.Warn("recording a commit decision failed; recording abort instead", "txn", txid, "err", err)
	abortErr := record(Abort)
	switch {
	case abortErr == nil:
		return Abort, nil
	case errors.Is(abortErr, ErrDecisionConflict):
		return Commit, nil // the first attempt was written after all
	}
	return 0, errors.Join(err, abortErr)
}

// rollbackPrepared rolls back the participants that prepared (those whose
// errs entry is nil; all when errs is nil).
func (c *Coordinator) rollbackPrepared(ctx context.Context, ps []Participant, gids []string, errs []error) {
	ctx, cancel := context.WithTimeout(ctx, finishTimeout)
	defer cancel()
	parallel(ps, func(i int, p Participant) error {
		if errs != nil && errs[i] != nil {
			return nil
		}
		if err := p.Exec(ctx, "ROLLBACK PREPARED "+quote(gids[i])); err != nil && pgerror.Code(err) != pgerror.UndefinedObject {
			c.logger.Error("rollback of prepared transaction failed; it stays prepared until recovery resolves it", "gid", gids[i], "cluster", p.Cluster(), "err", err)
		}
		return nil
	})
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
		wg.Go(func() { errs[i] = fn(i, p) })
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

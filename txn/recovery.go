package txn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// RecoveryOptions configure a Recovery. RouterID, Log and Primaries are
// required; the zero value of the rest works.
type RecoveryOptions struct {
	// RouterID is this router's id: its transactions are recovered
	// whenever they are not in flight.
	RouterID string
	// Log holds the decisions (an EtcdLog).
	Log DecisionStore
	// Routers tells which other routers are alive (a Registry); their
	// transactions are left alone. Nil: every other router counts as
	// alive, and only this router's transactions are recovered.
	Routers interface {
		LiveRouters(ctx context.Context) (map[string]bool, error)
	}
	// InFlight reports the transactions this router is committing right
	// now (Coordinator.InFlight); nil means none.
	InFlight func(txid string) bool
	// Primaries returns the current primaries: cluster name -> postgres
	// URL.
	Primaries func() map[string]string
	// Connect opens a session to a primary; nil means pgconn.Connect with
	// the URL as it is.
	Connect func(ctx context.Context, cluster, url string) (*pgconn.PgConn, error)
	// Interval is the time between passes of Run (default 30 s).
	Interval time.Duration
	// NoDecisionTimeout is how long a prepared transaction without a
	// decision may stay prepared before recovery aborts it, by its
	// pg_prepared_xacts.prepared time (default 60 s).
	NoDecisionTimeout time.Duration
	// AbortRetention is how long an abort decision is kept after its
	// prepared transactions are gone (default 1 h). It stops a
	// coordinator that stalled past NoDecisionTimeout from recording a
	// commit of a transaction recovery rolled back.
	AbortRetention time.Duration
	// Logger receives what recovery did; nil discards.
	Logger *slog.Logger
}

// Recovery resolves in-doubt prepared transactions: those of this router
// that are not in flight, and those of routers that are gone. A committed
// decision is finished with COMMIT PREPARED; an aborted one, or none
// after NoDecisionTimeout, with ROLLBACK PREPARED (after recording the
// abort, so that a late commit decision cannot be written). Decisions
// whose prepared transactions are all gone are forgotten. Several
// recoveries may run at once, on one router or on many.
type Recovery struct {
	opts RecoveryOptions
}

// NewRecovery makes a Recovery; nothing runs until Run or RecoverOnce.
func NewRecovery(opts RecoveryOptions) *Recovery {
	if opts.Interval <= 0 {
		opts.Interval = 30 * time.Second
	}
	if opts.NoDecisionTimeout <= 0 {
		opts.NoDecisionTimeout = 60 * time.Second
	}
	if opts.AbortRetention <= 0 {
		opts.AbortRetention = time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Connect == nil {
		opts.Connect = func(ctx context.Context, _, url string) (*pgconn.PgConn, error) { return pgconn.Connect(ctx, url) }
	}
	if opts.InFlight == nil {
		opts.InFlight = func(string) bool { return false }
	}
	return &Recovery{opts: opts}
}

// Run makes a pass at once, then one every Interval, until ctx ends; it
// logs what each pass did and returns ctx's error.
func (r *Recovery) Run(ctx context.Context) error {
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, max(r.opts.Interval, time.Minute))
		rep, err := r.RecoverOnce(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if rep.changed() {
			r.opts.Logger.Info("recovered prepared transactions", "report", rep)
		}
		if err != nil {
			r.opts.Logger.Warn("recovery pass incomplete", "err", err, "report", rep)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// inDoubt is one transaction's prepared participants as a pass found
// them.
type inDoubt struct {
	txid, router string
	parts        []inDoubtPart
	oldest       time.Duration
}

type inDoubtPart struct {
	primary *primaryScan
	gid     string
}

// RecoverOnce makes one pass over every primary and returns what it did.
// The error joins everything that went wrong (an unreachable primary, a
// failed COMMIT PREPARED); the pass carries on past each.
func (r *Recovery) RecoverOnce(ctx context.Context) (Report, error) {
	var rep Report
	if r.opts.Log == nil || r.opts.RouterID == "" {
		return rep, errors.New("txn recovery: RecoveryOptions.Log and RouterID are required")
	}
	// The decisions are listed before the primaries are scanned: a
	// decision is recorded after all its PREPAREs, so any prepared
	// transaction of a listed decision shows up in the scan.
	decided, err := r.opts.Log.List(ctx, 0)
	if err != nil {
		return rep, fmt.Errorf("txn recovery: %w", err)
	}
	scans := r.scanPrimaries(ctx)
	defer closeScans(scans)
	var errs []error
	for _, s := range scans {
		if s.err != nil {
			errs = append(errs, fmt.Errorf("txn recovery: cluster %s: %w", s.cluster, s.err))
		}
	}
	txns := r.group(scans)
	var live map[string]bool
	var liveErr error
	if r.opts.Routers != nil && slices.ContainsFunc(txns, func(t *inDoubt) bool { return t.router != r.opts.RouterID }) {
		live, liveErr = r.opts.Routers.LiveRouters(ctx)
		if liveErr != nil {
			errs = append(errs, fmt.Errorf("txn recovery: %w", liveErr))
		}
	}
	remaining := map[string]bool{}
	for _, t := range txns {
		before := len(rep.Left)
		if err := r.settle(ctx, t, live, liveErr, &rep); err != nil {
			errs = append(errs, err)
		}
		if len(rep.Left) > before {
			remaining[t.txid] = true
		}
	}
	errs = append(errs, r.forget(ctx, decided, scans, remaining, &rep)...)
	return rep, errors.Join(errs...)
}

// group gathers the GIDs of the scans by transaction, in id order.
func (r *Recovery) group(scans []*primaryScan) []*inDoubt {
	byID := map[string]*inDoubt{}
	for _, s := range scans {
		for _, x := range s.prepared {
			g, ok := ParseGID(x.gid)
			if !ok {
				r.opts.Logger.Debug("prepared transaction not named by sqlrouter; left alone", "gid", x.gid, "cluster", s.cluster)
				continue
			}
			t := byID[g.Txn]
			if t == nil {
				t = &inDoubt{txid: g.Txn, router: g.Router}
				byID[g.Txn] = t
			}
			t.parts = append(t.parts, inDoubtPart{primary: s, gid: x.gid})
			t.oldest = max(t.oldest, x.age)
		}
	}
	out := make([]*inDoubt, 0, len(byID))
	for _, t := range byID {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *inDoubt) int { return cmp.Compare(a.txid, b.txid) })
	return out
}

// settle finishes one transaction if it is this pass's to finish.
func (r *Recovery) settle(ctx context.Context, t *inDoubt, live map[string]bool, liveErr error, rep *Report) error {
	leaveAll := func(reason string) {
		for _, p := range t.parts {
			rep.leave(p.gid, reason)
		}
	}
	if reason := r.notOurs(t, live, liveErr); reason != "" {
		leaveAll(reason)
		return nil
	}
	logged, found, err := r.opts.Log.Lookup(ctx, t.txid)
	if err != nil {
		leaveAll("error: decision log unreachable")
		return fmt.Errorf("txn recovery: %w", err)
	}
	d := logged.Decision
	if !found {
		// The transaction may have ended since the scan: its coordinator
		// finished and forgot the decision. Only what is still prepared
		// may be aborted.
		if t.parts, err = r.stillPrepared(ctx, t.parts); err != nil {
			leaveAll("error: " + err.Error())
			return fmt.Errorf("txn recovery: %w", err)
		}
		if len(t.parts) == 0 {
			return nil
		}
		if t.oldest < r.opts.NoDecisionTimeout {
			leaveAll(reasonNoDecision)
			return nil
		}
		if d, err = r.abort(ctx, t); err != nil {
			leaveAll("error: abort not recorded")
			return err
		}
	}
	var errs []error
	for _, p := range t.parts {
		if err := r.finish(ctx, p, d, rep); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stillPrepared returns the parts whose GID is still prepared.
func (r *Recovery) stillPrepared(ctx context.Context, parts []inDoubtPart) ([]inDoubtPart, error) {
	var out []inDoubtPart
	for _, p := range parts {
		ok, err := p.primary.isPrepared(ctx, p.gid)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", p.primary.cluster, err)
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// notOurs says why the pass must leave t alone, "" when it must not.
func (r *Recovery) notOurs(t *inDoubt, live map[string]bool, liveErr error) string {
	switch {
	case t.router == r.opts.RouterID:
		if r.opts.InFlight(t.txid) {
			return reasonInFlight
		}
		return ""
	case r.opts.Routers == nil || live[t.router]:
		return reasonOwnerAlive
	case liveErr != nil:
		return reasonOwnerUnknown
	}
	return ""
}

// abort records the abort of a transaction without a decision and returns
// the decision that holds: Commit when its coordinator recorded one in
// the meantime.
func (r *Recovery) abort(ctx context.Context, t *inDoubt) (Decision, error) {
	var clusters []string
	for _, p := range t.parts {
		clusters = append(clusters, p.primary.cluster)
	}
	err := r.opts.Log.Record(ctx, t.txid, Abort, clusters)
	switch {
	case err == nil:
		r.opts.Logger.Info("aborting a prepared transaction left without decision", "txn", t.txid, "clusters", clusters, "age", t.oldest.Round(time.Millisecond))
		return Abort, nil
	case errors.Is(err, ErrDecisionConflict):
		return Commit, nil
	}
	return 0, fmt.Errorf("txn recovery: %w", err)
}

// finish commits or rolls back one participant.
func (r *Recovery) finish(ctx context.Context, p inDoubtPart, d Decision, rep *Report) error {
	verb := "COMMIT PREPARED "
	if d == Abort {
		verb = "ROLLBACK PREPARED "
	}
	err := p.primary.exec(ctx, verb+quote(p.gid))
	var pgErr *pgconn.PgError
	switch {
	case err == nil && d == Commit:
		rep.Committed = append(rep.Committed, p.gid)
	case err == nil:
		rep.RolledBack = append(rep.RolledBack, p.gid)
	case errors.As(err, &pgErr) && pgErr.Code == "42704":
		// Someone else finished it between the scan and now.
	case errors.As(err, &pgErr) && pgErr.Code == "55000":
		// "prepared transaction ... is busy": another session is
		// finishing it right now.
		rep.leave(p.gid, reasonBusy)
	default:
		rep.leaveErr(p.gid, err)
		return fmt.Errorf("txn recovery: %s on cluster %s: %w", verb+p.gid, p.primary.cluster, err)
	}
	return nil
}

// forget deletes the decisions listed before the scan whose prepared
// transactions are all gone: every cluster of the decision was scanned,
// and none of them still holds one of its GIDs.
func (r *Recovery) forget(ctx context.Context, decided []LoggedDecision, scans []*primaryScan, remaining map[string]bool, rep *Report) []error {
	scanned := map[string]bool{}
	for _, s := range scans {
		if s.err == nil {
			scanned[s.cluster] = true
		}
	}
	var errs []error
	for _, d := range decided {
		if remaining[d.Txn] || !allIn(d.Clusters, scanned) {
			continue
		}
		if d.Decision == Abort && time.Since(d.Time) < r.opts.AbortRetention {
			continue
		}
		if err := r.opts.Log.Forget(ctx, d.Txn); err != nil {
			errs = append(errs, fmt.Errorf("txn recovery: %w", err))
			continue
		}
		rep.Forgotten = append(rep.Forgotten, d.Txn)
	}
	return errs
}

func allIn(names []string, set map[string]bool) bool {
	for _, n := range names {
		if !set[n] {
			return false
		}
	}
	return true
}

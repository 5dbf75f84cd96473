package executor

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
	"github.com/sqlrouter/sqlrouter/txn"
)

// enter makes c part of the current transaction. When the transaction
// is coordinated, c first gets BEGIN and the transaction's savepoints and
// transaction-local settings, pipelined with whatever follows. When an
// implicit transaction reaches a second cluster, the first one is turned
// into an explicit block (BEGIN inside an implicit transaction keeps what
// it already did) so that the end can be atomic.
func (s *Session) enter(ctx context.Context, c *conn) error {
	if c.participant {
		return nil
	}
	if !s.coordinated && len(s.participants) > 0 {
		if err := s.coordinate(ctx); err != nil {
			return err
		}
	}
	c.participant = true
	s.participants = append(s.participants, c)
	if s.readOnlyTxn && s.state != txIdle {
		s.txnConns[c.cluster] = c
	}
	if s.coordinated {
		s.sendBegin(c)
	}
	return nil
}

// coordinate puts every participant inside BEGIN ... so that the
// transaction can end atomically across clusters.
func (s *Session) coordinate(ctx context.Context) error {
	if s.coordinated {
		return nil
	}
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.pipe.failed {
		return errSkipped
	}
	s.coordinated = true
	for _, p := range s.participants {
		if !p.inTxn {
			s.sendBegin(p)
		}
	}
	return nil
}

// sendBegin queues BEGIN and the transaction's state on c.
func (s *Session) sendBegin(c *conn) {
	begin := s.beginSQL
	if begin == "" {
		begin = "BEGIN"
	}
	var b strings.Builder
	b.WriteString(begin)
	for _, sp := range s.savepoints {
		b.WriteString("; SAVEPOINT ")
		b.WriteString(quoteIdent(sp))
	}
	for _, p := range s.settings.pending {
		b.WriteString("; ")
		b.WriteString(p.sql)
	}
	s.internal(c, b.String())
	c.inTxn = true
}

// internal queues a command of the router's own on c; its results are
// dropped, but an error reaches the client and fails the statement.
func (s *Session) internal(c *conn, sql string) *entry {
	c.SendQuery(sql)
	c.unnamed = ""
	e := s.newEntry(entry{kind: expQuery, conn: c, sink: errorsOnly{s}})
	s.push(e)
	return e
}

// errorsOnly relays only errors: internal commands stay silent unless they
// fail.
type errorsOnly struct{ s *Session }

func (e errorsOnly) message(typ byte, body []byte) {
	if typ == 'E' {
		e.s.client.WriteRaw(typ, body)
	}
}

// participantList returns the participants as txn.Participants.
func (s *Session) participantList() []txn.Participant {
	out := make([]txn.Participant, len(s.participants))
	for i, p := range s.participants {
		out[i] = p
	}
	return out
}

// endTransaction commits (or rolls back) the participants and forgets the
// transaction. The pipeline must be drained and every participant synced.
//
// Participants that only read commit first, with a plain COMMIT; those
// that may have written commit together, by two-phase commit when there
// are several. A reader that fails to commit rolls the writers back.
func (s *Session) endTransaction(ctx context.Context, commit bool) error {
	all := s.participants
	ps := s.participantList()
	coordinated := s.coordinated
	var writers, readers []txn.Participant
	var positioned []*positionedCommit
	for _, p := range all {
		p.participant, p.inTxn = false, false
		switch {
		case p.wrote && !p.replica && s.hasReplicas(p.cluster):
			pc := &positionedCommit{conn: p}
			writers = append(writers, pc)
			positioned = append(positioned, pc)
		case p.wrote:
			writers = append(writers, p)
		default:
			readers = append(readers, p)
		}
		p.wrote = false
	}
	clear(s.participants)
	s.participants = s.participants[:0]
	s.coordinated = false
	s.beginSQL = ""
	s.savepoints = nil
	s.state = txIdle
	s.readOnlyTxn = false
	s.reads.localLevel = nil
	s.reads.localJoin = ""
	clear(s.txnConns)
	defer s.collectStatuses(ps)
	if !coordinated {
		// A single cluster's implicit transaction: the server ended it.
		s.settings.end(commit)
		if commit {
			s.markSynced(ps)
		}
		return nil
	}
	if !commit {
		s.settings.end(false)
		return s.cfg.Coordinator.Rollback(ctx, ps)
	}
	for _, r := range readers {
		if err := r.Exec(ctx, "COMMIT"); err != nil {
			s.settings.end(false)
			s.cfg.Coordinator.Rollback(ctx, append(readers, writers...))
			return err
		}
	}
	err := s.cfg.Coordinator.Commit(ctx, writers)
	s.settings.end(err == nil)
	s.markSynced(ps)
	if err == nil {
		for _, pc := range positioned {
			if pc.lsn != 0 {
				s.advance(pc.cluster, pc.lsn)
			}
		}
	}
	return err
}

// collectStatuses passes on the ParameterStatus messages that commands
// run by the transaction coordinator brought (a ROLLBACK restores settings).
// With nil, it looks at every conn of the session.
func (s *Session) collectStatuses(ps []txn.Participant) {
	collect := func(c *conn) {
		for _, body := range c.statuses {
			s.parameterStatus(body)
		}
		c.statuses = nil
	}
	if ps == nil {
		for _, c := range s.conns {
			collect(c)
		}
		if s.coord != nil {
			collect(s.coord)
		}
		return
	}
	for _, p := range ps {
		collect(p.(*conn))
	}
}

// markSynced notes that the participants hold the committed settings
// (unless the transaction reset a startup parameter: they hold the
// server's default then, and the next use replays the settings).
func (s *Session) markSynced(ps []txn.Participant) {
	for _, p := range ps {
		c := p.(*conn)
		c.Applied = s.settings.text
		if s.settings.resetBase {
			c.Applied = "\x00stale"
		}
		if s.settings.identity {
			c.dirty = true
		}
	}
}

// txnControl runs BEGIN, COMMIT, ROLLBACK and the savepoint commands.
func (s *Session) txnControl(ctx context.Context, t *planner.TxnControl) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.pipe.failed {
		return nil
	}
	switch t.Op {
	case planner.TxnBegin:
		return s.begin(ctx, t)
	case planner.TxnCommit:
		return s.commit(ctx)
	case planner.TxnRollback:
		return s.rollback(ctx)
	}
	return s.savepoint(ctx, t)
}

func (s *Session) begin(ctx context.Context, t *planner.TxnControl) error {
	if s.state != txIdle {
		s.client.Send(warning(pgerror.ActiveSQLTransaction, "there is already a transaction in progress"))
		s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte("BEGIN")})
		return nil
	}
	s.beginSQL = t.SQL
	s.state = txBlock
	s.readOnlyTxn = t.ReadOnly || isOn(s.settings.value("default_transaction_read_only"))
	if err := s.coordinate(ctx); err != nil {
		return s.stmtError(ctx, err)
	}
	s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte("BEGIN")})
	return nil
}

func (s *Session) commit(ctx context.Context) error {
	if s.state == txFailed {
		return s.rollback(ctx)
	}
	implicit := s.state == txIdle
	if implicit && len(s.participants) == 0 {
		s.client.Send(warning(pgerror.NoActiveSQLTransaction, "there is no transaction in progress"))
		s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte("COMMIT")})
		return nil
	}
	// A plain COMMIT also ends a single cluster's implicit transaction.
	s.coordinated = true
	if err := s.endTransaction(ctx, true); err != nil {
		s.sendError(err)
		return nil
	}
	if implicit {
		s.client.Send(warning(pgerror.NoActiveSQLTransaction, "there is no transaction in progress"))
	}
	s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte("COMMIT")})
	return nil
}

func (s *Session) rollback(ctx context.Context) error {
	if s.state == txIdle && len(s.participants) == 0 {
		s.client.Send(warning(pgerror.NoActiveSQLTransaction, "there is no transaction in progress"))
		s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte("ROLLBACK")})
		return nil
	}
	implicit := s.state == txIdle
	s.coordinated = true
	if err := s.endTransaction(ctx, false); err != nil {
		s.sendError(err)
		return nil
	}
	if implicit {
		s.client.Send(warning(pgerror.NoActiveSQLTransaction, "there is no transaction in progress"))
	}
	s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte("ROLLBACK")})
	return nil
}

func (s *Session) savepoint(ctx context.Context, t *planner.TxnControl) error {
	cmd := map[planner.TxnOp]string{planner.TxnSavepoint: "SAVEPOINT", planner.TxnRelease: "RELEASE SAVEPOINT", planner.TxnRollbackTo: "ROLLBACK TO SAVEPOINT"}[t.Op]
	switch {
	case s.state == txIdle:
		return s.stmtError(ctx, pgerror.New(pgerror.NoActiveSQLTransaction, "%s can only be used in transaction blocks", cmd))
	case s.state == txFailed && t.Op != planner.TxnRollbackTo:
		return s.stmtError(ctx, abortedError())
	}
	idx := slices.Index(s.savepoints, t.Savepoint)
	if t.Op != planner.TxnSavepoint {
		// The newest savepoint of that name counts.
		idx = slices.Index(reversed(s.savepoints), t.Savepoint)
		if idx >= 0 {
			idx = len(s.savepoints) - 1 - idx
		}
		if idx < 0 {
			return s.stmtError(ctx, pgerror.New(pgerror.InvalidSavepoint, "savepoint \"%s\" does not exist", t.Savepoint))
		}
	}
	sql := cmd + " " + quoteIdent(t.Savepoint)
	var entries []*entry
	for _, p := range s.participants {
		entries = append(entries, s.internal(p, sql))
	}
	if err := s.drain(ctx); err != nil {
		return err
	}
	for _, e := range entries {
		if e.err != nil {
			s.statementFailed()
			return nil
		}
	}
	switch t.Op {
	case planner.TxnSavepoint:
		s.savepoints = append(s.savepoints, t.Savepoint)
		s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte("SAVEPOINT")})
	case planner.TxnRelease:
		s.savepoints = s.savepoints[:idx]
		s.settings.release(idx)
		s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte("RELEASE")})
	case planner.TxnRollbackTo:
		s.savepoints = s.savepoints[:idx+1]
		s.settings.rollbackTo(idx + 1)
		s.state = txBlock
		s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte("ROLLBACK")})
	}
	return nil
}

// stmtError reports a statement's failure and updates the transaction
// state as PostgreSQL would.
func (s *Session) stmtError(ctx context.Context, err error) error {
	if err == errSkipped {
		return nil
	}
	s.sendError(err)
	s.statementFailed()
	return nil
}

// statementFailed moves an explicit block to the aborted state and marks an
// implicit transaction for rollback.
func (s *Session) statementFailed() {
	if s.state == txBlock {
		s.state = txFailed
	}
	s.pipe.failed = true
}

func abortedError() error {
	return pgerror.New(pgerror.InFailedTransaction, "current transaction is aborted, commands ignored until end of transaction block")
}

func warning(code, msg string) *pgproto3.NoticeResponse {
	return &pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: code, Message: msg}
}

func isOn(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes", "1", "t", "y":
		return true
	}
	return false
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func reversed(in []string) []string {
	out := slices.Clone(in)
	slices.Reverse(out)
	return out
}

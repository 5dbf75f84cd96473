package executor

import (
	"context"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
)

// Query runs the statements of one simple-protocol Query message and
// queues every response but the final ReadyForQuery, whose status byte is
// TxStatus afterwards. text is the message's whole text.
//
// Several statements in one message form one implicit transaction, as in
// PostgreSQL, unless they contain transaction control. When they all go to
// one cluster the text is sent there unchanged in one round trip; otherwise
// they run one by one, inside BEGIN on every cluster they reach, and commit
// together at the end.
func (s *Session) Query(ctx context.Context, text string, stmts []planner.Statement) error {
	s.pipe.failed = false
	s.batchWrites = false
	if len(stmts) > 1 {
		for _, st := range stmts {
			s.batchWrites = s.batchWrites || writes(st.Plan)
		}
	}
	defer func() {
		s.batchWrites = false
		s.releaseIdle()
		s.recycleRetries()
	}()
	if len(stmts) == 0 {
		s.client.Send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	if s.state == txFailed && !allExitTransaction(stmts) {
		s.sendError(abortedError())
		return nil
	}
	if len(stmts) > 1 {
		for _, st := range stmts {
			s.tempObjects = s.tempObjects || st.TempObjects
			s.sessionState = s.sessionState || st.SessionState
		}
		if cluster, ok := s.singleCluster(stmts); ok {
			return s.runWhole(ctx, cluster, text)
		}
		if s.state == txIdle {
			s.coordinated = true // every cluster gets BEGIN: one implicit transaction
		}
	}
	for _, st := range stmts {
		s.newStatement()
		if s.pipe.failed {
			break
		}
		if s.state == txFailed && !exitsTransaction(st.Plan) {
			s.sendError(abortedError())
			break
		}
		if err := s.runStatement(ctx, st, nil); err != nil {
			return err
		}
	}
	return s.endQuery(ctx)
}

// endQuery ends the implicit transaction of a Query message.
func (s *Session) endQuery(ctx context.Context) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	failed := s.pipe.failed
	s.pipe.failed = false
	if s.state != txIdle {
		return nil
	}
	if err := s.endTransaction(ctx, !failed); err != nil {
		s.sendError(err)
	}
	s.reportToken()
	return nil
}

// writes reports plans that may change data (and must see the primary).
func writes(p planner.Plan) bool {
	switch p := p.(type) {
	case *planner.Route:
		return !p.ReadOnly
	case *planner.Scatter:
		return !p.ReadOnly
	case *planner.Combine:
		return !p.ReadOnly
	case *planner.Finish, *planner.Join, *planner.Empty, *planner.ShowRouter, *planner.CursorCommand, *planner.TxnControl, *planner.SessionSet:
		return false
	}
	return true
}

// singleCluster reports whether every statement is a plain route to the
// same cluster, fixed when planning, with no statement the router must
// handle itself.
func (s *Session) singleCluster(stmts []planner.Statement) (string, bool) {
	cluster := ""
	for _, st := range stmts {
		r, ok := st.Plan.(*planner.Route)
		if !ok || r.Target.Deferred() || r.DeclareCursor != "" || len(r.Target.Static) != 1 {
			return "", false
		}
		if cluster != "" && r.Target.Static[0] != cluster {
			return "", false
		}
		cluster = r.Target.Static[0]
	}
	// Inside a block the text may only go where the block already is.
	if s.state != txIdle {
		for _, p := range s.participants {
			if p.cluster != cluster {
				return "", false
			}
		}
	}
	return cluster, true
}

// runWhole sends a whole multi-statement text to one cluster.
func (s *Session) runWhole(ctx context.Context, cluster, text string) error {
	s.newStatement()
	c, err := s.routeConn(ctx, cluster)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	s.routed(c)
	c.markWrote()
	if err := s.enter(ctx, c); err != nil {
		return s.stmtError(ctx, err)
	}
	c.SendQuery(text)
	c.unnamed = ""
	s.touched(cluster)
	e := s.newEntry(entry{kind: expQuery, conn: c, sink: clientSink{s}})
	s.push(e)
	if err := s.drain(ctx); err != nil {
		return err
	}
	if e.err != nil {
		s.statementFailed()
	}
	if s.state == txIdle {
		// The server ran the implicit transaction itself.
		s.participants = removeConn(s.participants, c)
		c.participant, c.wrote = false, false
		s.pipe.failed = false
		s.fetchPositions(ctx, []*conn{c})
		s.reportToken()
	} else if c.TxStatus() == 'E' {
		s.state = txFailed
	}
	return nil
}

func removeConn(list []*conn, c *conn) []*conn {
	out := list[:0]
	for _, x := range list {
		if x != c {
			out = append(out, x)
		}
	}
	return out
}

// runStatement runs one statement of a Query message. params is nil for
// the simple protocol.
func (s *Session) runStatement(ctx context.Context, st planner.Statement, _ *planner.Params) error {
	if st.TempObjects {
		s.tempObjects = true
	}
	if st.SessionState {
		s.sessionState = true
	}
	switch p := st.Plan.(type) {
	case *planner.Route:
		cluster, err := p.Cluster(planner.Params{})
		if err != nil {
			return s.stmtError(ctx, err)
		}
		return s.runRoute(ctx, cluster, st, p.DeclareCursor, p.ReadOnly, p.CopyIn)
	case *planner.CursorCommand:
		if p.All {
			return s.closeAllCursors(ctx, st.SQL)
		}
		cluster, ok := s.cursors[p.Name]
		if !ok {
			return s.stmtError(ctx, pgerror.New(pgerror.InvalidCursorName, "cursor \"%s\" does not exist", p.Name))
		}
		if p.Close {
			delete(s.cursors, p.Name)
		}
		return s.runRoute(ctx, cluster, st, "", false, false)
	case *planner.Broadcast:
		return s.runBroadcast(ctx, p, st, nil)
	case *planner.SplitInsert:
		return s.runSplit(ctx, p, st, nil, true)
	case *planner.FanOut:
		return s.runFanOut(ctx, p, st, nil)
	case *planner.InsertSelect:
		return s.runInsertSelect(ctx, p, nil)
	case *planner.Locate:
		return s.runLocate(ctx, p, st, nil)
	case *planner.GenKeys:
		return s.runGenKeys(ctx, p, st, nil)
	case *planner.Finish:
		return s.runFinish(ctx, p, nil, true, st.Consistency)
	case *planner.Join:
		return s.runJoin(ctx, p, nil, true, st.Consistency)
	case *planner.Sequence:
		return s.runSequence(ctx, p, nil)
	case *planner.Scatter:
		return s.runScatter(ctx, p, nil, true, st.Consistency)
	case *planner.Combine:
		return s.runCombine(ctx, p, nil, true, st.Consistency)
	case *planner.ExplainPlan:
		return s.runExplain(ctx, p, nil, true)
	case *planner.CopyIn:
		return s.runCopyIn(ctx, p)
	case *planner.VerticalCopyIn:
		return s.runVerticalCopyIn(ctx, p)
	case *planner.CopyOut:
		return s.runCopyOut(ctx, p)
	default:
		return s.runLocal(ctx, st.Plan, true)
	}
}

// runRoute sends one statement's text to one cluster: to a replica when
// it is a read the consistency level lets one serve.
func (s *Session) runRoute(ctx context.Context, cluster string, st planner.Statement, cursor string, readOnly, copyIn bool) error {
	c, err := s.readConn(ctx, cluster, readOnly && cursor == "", st.Consistency)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	if err := s.enter(ctx, c); err != nil {
		return s.stmtError(ctx, err)
	}
	if !readOnly {
		c.markWrote()
	}
	c.SendQuery(st.SQL)
	c.unnamed = ""
	s.touched(cluster)
	e := s.newEntry(entry{kind: expQuery, conn: c, sink: clientSink{s}, charOffset: st.CharOffset})
	if c.replica {
		r := s.newRetry()
		r.simple, r.cluster, r.hint, r.charOffset = st.SQL, cluster, st.Consistency, st.CharOffset
		e.retry = r
	}
	s.push(e)
	autocommit := !readOnly && s.state == txIdle && !s.coordinated
	if autocommit && !copyIn {
		// The write commits on its own: learn the primary's position
		// after it, in the same round trip.
		s.queuePosition(c)
	}
	if err := s.drain(ctx); err != nil {
		return err
	}
	if e.err != nil {
		s.statementFailed()
		return nil
	}
	if autocommit && copyIn && c.TxStatus() == 'I' {
		s.fetchPositions(ctx, []*conn{c})
	}
	if cursor != "" {
		s.cursors[cursor] = cluster
	}
	return nil
}

// routeConn returns the conn for a cluster, ready to take messages: the
// pipeline of another conn is drained first (responses must come back in
// order, and a failure there must stop what follows), and the session's
// settings are replayed when the conn is behind.
func (s *Session) routeConn(ctx context.Context, cluster string) (*conn, error) {
	c, err := s.conn(ctx, cluster)
	if err != nil {
		return nil, err
	}
	if s.pipe.busy != nil && s.pipe.busy != c {
		if err := s.drain(ctx); err != nil {
			return nil, err
		}
		if s.pipe.failed {
			return nil, errSkipped
		}
	}
	if !c.participant {
		s.syncSettings(c)
	}
	return c, nil
}

// exitsTransaction reports statements allowed in an aborted transaction.
func exitsTransaction(p planner.Plan) bool {
	t, ok := p.(*planner.TxnControl)
	return ok && (t.Op == planner.TxnCommit || t.Op == planner.TxnRollback || t.Op == planner.TxnRollbackTo)
}

func allExitTransaction(stmts []planner.Statement) bool {
	return exitsTransaction(stmts[0].Plan)
}

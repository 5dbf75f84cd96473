package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/executor"
	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
)

// serveConn runs one client connection to its end.
func (s *Server) serveConn(nc net.Conn) {
	cs := &clientSession{srv: s, nc: nc, in: &countingReader{r: nc}, stmts: map[string]*preparedStatement{}, id: newSessionID()}
	cs.guard.cs = cs
	cs.log = s.sessionLogger(cs)
	cs.be = pgproto3.NewBackend(cs.in, nc)
	cs.be.SetMaxBodyLen(s.cfg.MaxMessageSize)
	ctx := context.Background()
	defer func() {
		if r := recover(); r != nil {
			// A bug must cost one client its connection, not the router.
			s.panics.Add(1)
			cs.log.Error("session panicked", "panic", r, "stack", string(debug.Stack()))
			cs.fatal(pgerror.New(pgerror.InternalError, "internal error in sqlrouter: %v", r))
		}
		cs.guard.end()
		if cs.exec != nil {
			cs.exec.Close()
		}
		s.unregister(cs)
		if cs.admitted {
			s.clients.Add(-1)
		}
	}()
	if !cs.startup(ctx) {
		return
	}
	cs.log.Debug("client connected", "pid", cs.pid)
	err := cs.loop(ctx)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		cs.log.Debug("client connection ended", "err", err)
	} else {
		cs.log.Debug("client disconnected")
	}
}

// loop reads and handles messages until Terminate or an error.
func (cs *clientSession) loop(ctx context.Context) error {
	cs.atReady = true
	for {
		if !cs.waitMessage() {
			cs.fatal(adminShutdown())
			return nil
		}
		msg, err := cs.be.Receive()
		if cs.gotMessage() {
			cs.fatal(adminShutdown())
			return nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
				return err
			}
			var tooBig *pgproto3.ExceededMaxBodyLenErr
			if errors.As(err, &tooBig) {
				cs.fatal(pgerror.New(pgerror.ProtocolViolation, "message of %d bytes exceeds the limit of %d bytes", tooBig.ActualBodyLen, tooBig.MaxExpectedBodyLen))
				return err
			}
			cs.fatal(pgerror.New(pgerror.ProtocolViolation, "invalid frontend message: %v", err))
			return err
		}
		if snap := cs.srv.deps.Snapshot(); snap != nil {
			cs.exec.SetSnapshot(snap)
		}
		if cs.srv.testHook != nil {
			cs.srv.testHook(msg)
		}
		switch msg.(type) {
		case *pgproto3.Terminate, *pgproto3.Flush:
		default:
			cs.beginRequest()
		}
		switch m := msg.(type) {
		case *pgproto3.Query:
			err = cs.query(ctx, m.String)
		case *pgproto3.Sync:
			if err = cs.exec.Sync(ctx); err == nil {
				err = cs.readyForQuery()
			}
		case *pgproto3.Flush:
			if err = cs.exec.Flush(ctx); err == nil {
				err = cs.flush()
			}
		case *pgproto3.Terminate:
			return nil
		case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
			// Leftovers of a COPY that failed: ignored, as PostgreSQL does.
		case *pgproto3.FunctionCall:
			err = cs.extendedError(ctx, pgerror.Unsupported("the fast-path function call interface is not supported"))
		default:
			if cs.exec.Failed() {
				continue // an earlier message of the batch failed: skip to Sync
			}
			if err = cs.extended(ctx, msg); err == nil {
				err = cs.exec.Relieve(ctx)
			}
		}
		if err != nil {
			return err
		}
	}
}

// query handles a simple-protocol Query message.
func (cs *clientSession) query(ctx context.Context, text string) error {
	// A Query ends the unnamed statement, as in PostgreSQL.
	delete(cs.stmts, "")
	stmts, err := cs.srv.deps.Planner.PlanQuery(cs.planContext(nil), text)
	if err != nil {
		cs.sendError(err)
	} else if err := cs.exec.Query(ctx, text, stmts); err != nil {
		return err
	}
	for _, st := range stmts {
		if d, ok := st.Plan.(*planner.Discard); ok && d.All {
			clear(cs.stmts)
		}
	}
	return cs.readyForQuery()
}

// planContext is what planning depends on now.
func (cs *clientSession) planContext(oids []uint32) planner.Context {
	snap := cs.srv.deps.Snapshot()
	return planner.Context{Map: snap.Map, Revision: snap.Revision, SearchPath: cs.exec.SearchPath(), ParamOIDs: oids}
}

// extended handles Parse, Bind, Describe, Execute and Close.
func (cs *clientSession) extended(ctx context.Context, msg pgproto3.FrontendMessage) error {
	switch m := msg.(type) {
	case *pgproto3.Parse:
		if _, exists := cs.stmts[m.Name]; exists && m.Name != "" {
			return cs.extendedError(ctx, pgerror.New(pgerror.DuplicatePreparedStmt, "prepared statement \"%s\" already exists", m.Name))
		}
		pctx := cs.planContext(m.ParameterOIDs)
		st, err := cs.srv.deps.Planner.PlanPrepared(pctx, m.Query)
		if err != nil {
			delete(cs.stmts, m.Name)
			return cs.extendedError(ctx, err)
		}
		ps := &preparedStatement{Prepared: executor.NewPrepared(m.Name, m.Query, m.ParameterOIDs, st), rev: pctx.Revision}
		cs.stmts[m.Name] = ps
		return cs.exec.Parse(ctx, ps.Prepared)
	case *pgproto3.Bind:
		ps, err := cs.statement(m.PreparedStatement)
		if err != nil {
			return cs.extendedError(ctx, err)
		}
		if err := checkBind(m, ps); err != nil {
			return cs.extendedError(ctx, err)
		}
		return cs.exec.Bind(ctx, m.DestinationPortal, ps.Prepared, planner.Params{Values: m.Parameters, Formats: m.ParameterFormatCodes}, m.ResultFormatCodes)
	case *pgproto3.Describe:
		if m.ObjectType == 'P' {
			return cs.exec.DescribePortal(ctx, m.Name)
		}
		ps, err := cs.statement(m.Name)
		if err != nil {
			return cs.extendedError(ctx, err)
		}
		return cs.exec.DescribeStatement(ctx, ps.Prepared)
	case *pgproto3.Execute:
		return cs.exec.Execute(ctx, m.Portal, m.MaxRows)
	case *pgproto3.Close:
		if m.ObjectType == 'P' {
			return cs.exec.ClosePortal(ctx, m.Name)
		}
		delete(cs.stmts, m.Name)
		return cs.exec.CloseStatement(ctx)
	}
	cs.fatal(pgerror.New(pgerror.ProtocolViolation, "invalid frontend message type %T", msg))
	return fmt.Errorf("unexpected message %T", msg)
}

// statement finds a prepared statement, planned anew if the shard map
// changed since it was planned.
func (cs *clientSession) statement(name string) (*preparedStatement, error) {
	ps, ok := cs.stmts[name]
	if !ok {
		if name == "" {
			return nil, pgerror.New(pgerror.UndefinedPreparedStmt, "unnamed prepared statement does not exist")
		}
		return nil, pgerror.New(pgerror.UndefinedPreparedStmt, "prepared statement \"%s\" does not exist", name)
	}
	pctx := cs.planContext(ps.ParamOIDs)
	if pctx.Revision != ps.rev {
		st, err := cs.srv.deps.Planner.PlanPrepared(pctx, ps.SQL)
		if err != nil {
			return nil, err
		}
		ps.Stmt, ps.rev = st, pctx.Revision
	}
	return ps, nil
}

// checkBind applies the checks PostgreSQL makes on a Bind message that the
// router must make itself for statements it runs.
func checkBind(m *pgproto3.Bind, ps *preparedStatement) error {
	if n := len(m.ParameterFormatCodes); n > 1 && n != len(m.Parameters) {
		return pgerror.New(pgerror.ProtocolViolation, "bind message has %d parameter formats but %d parameters", n, len(m.Parameters))
	}
	for _, f := range m.ParameterFormatCodes {
		if f != 0 && f != 1 {
			return pgerror.New(pgerror.ProtocolViolation, "unsupported format code: %d", f)
		}
	}
	if n := len(ps.ParamOIDs); n > len(m.Parameters) {
		return pgerror.New(pgerror.ProtocolViolation, "bind message supplies %d parameters, but prepared statement \"%s\" requires %d", len(m.Parameters), ps.Name, n)
	}
	return nil
}

// extendedError reports an error of the extended protocol in order and
// makes the session skip to the next Sync.
func (cs *clientSession) extendedError(ctx context.Context, err error) error {
	return cs.exec.Fail(ctx, err)
}

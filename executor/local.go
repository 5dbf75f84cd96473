package executor

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
	"github.com/sqlrouter/sqlrouter/pool"
)

// runLocal runs a statement the router handles itself. describe says
// whether a RowDescription must precede rows (simple protocol).
func (s *Session) runLocal(ctx context.Context, plan planner.Plan, describe bool) error {
	switch p := plan.(type) {
	case *planner.Empty:
		s.respond(&pgproto3.EmptyQueryResponse{})
		return nil
	case *planner.TxnControl:
		return s.txnControl(ctx, p)
	case *planner.SessionSet:
		return s.set(ctx, p)
	case *planner.ShowRouter:
		return s.showRouter(ctx, p, describe)
	case *planner.Discard:
		return s.discard(ctx, p)
	case *planner.Deallocate:
		s.respond(&pgproto3.CommandComplete{CommandTag: []byte("DEALLOCATE ALL")})
		return nil
	}
	return s.stmtError(ctx, pgerror.New(pgerror.InternalError, "no executor for plan %T", plan))
}

// set applies a session setting on every backend session that must see it
// now (the transaction's participants, or the default cluster when there
// are none, so that PostgreSQL validates the value and answers) and
// records it for the others.
func (s *Session) set(ctx context.Context, p *planner.SessionSet) error {
	if p.RouterSetting() {
		return s.setRouter(ctx, p)
	}
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.pipe.failed {
		return nil
	}
	if p.Kind == planner.SetLocal && s.state == txIdle && !s.coordinated {
		// PostgreSQL warns and ignores it outside a transaction; let it.
		return s.runRoute(ctx, s.snap.Map.DefaultClusterName(), planner.Statement{SQL: p.SQL}, "", false, false)
	}
	targets := s.participants
	if len(targets) == 0 {
		c, err := s.routeConn(ctx, s.snap.Map.DefaultClusterName())
		if err != nil {
			return s.stmtError(ctx, err)
		}
		if err := s.enter(ctx, c); err != nil {
			return s.stmtError(ctx, err)
		}
		targets = []*conn{c}
	}
	var entries []*entry
	for i, c := range targets {
		c.SendQuery(p.SQL)
		c.unnamed = ""
		var sk sink = errorsOnly{s}
		if i == 0 {
			sk = clientSink{s}
		}
		e := s.newEntry(entry{kind: expQuery, conn: c, sink: sk})
		entries = append(entries, e)
		s.push(e)
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
	s.settings.add(p, len(s.savepoints))
	if p.Kind == planner.ResetAll {
		clear(s.cursors)
		s.reads = readSettings{}
	}
	return nil
}

// routerSetting returns a router setting's value, for SHOW.
func (s *Session) routerSetting(name string) (string, bool) {
	switch name {
	case "sqlrouter.version":
		return s.cfg.Version, true
	case "sqlrouter.shardmap_revision":
		return strconv.FormatInt(s.snap.Revision, 10), true
	case "sqlrouter.read_consistency":
		return s.level("").String(), true
	case "sqlrouter.max_replica_lag":
		if s.reads.maxLag != nil {
			return s.reads.maxLag.String(), true
		}
		return s.cfg.Reads.MaxLag.String(), true
	case "sqlrouter.ryw_wait":
		if s.reads.wait != nil {
			return s.reads.wait.String(), true
		}
		if s.cfg.Reads.Wait == 0 {
			return "50ms", true
		}
		return s.cfg.Reads.Wait.String(), true
	case "sqlrouter.ryw_token":
		return s.token.Encode(), true
	case "sqlrouter.last_route":
		return strings.Join(s.lastRoute, ","), true
	case "sqlrouter.join_strategy":
		return s.joinStrategy(), true
	case "sqlrouter.last_rows_shipped":
		return strconv.FormatInt(s.lastRowsShipped, 10), true
	}
	return "", false
}

// readOnlySettings are router settings SHOW reports and SET cannot change.
var readOnlySettings = map[string]bool{"sqlrouter.version": true, "sqlrouter.shardmap_revision": true, "sqlrouter.last_route": true, "sqlrouter.last_rows_shipped": true}

func (s *Session) setRouter(ctx context.Context, p *planner.SessionSet) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.pipe.failed {
		return nil
	}
	if readOnlySettings[p.Name] {
		return s.stmtError(ctx, pgerror.New("55P02", "parameter \"%s\" cannot be changed", p.Name))
	}
	if p.Kind == planner.ResetAll {
		s.reads = readSettings{}
		return nil
	}
	local := p.Kind == planner.SetLocal
	if local && s.state == txIdle {
		s.client.Send(warning(pgerror.NoActiveSQLTransaction, "SET LOCAL can only be used in transaction blocks"))
		s.respond(&pgproto3.CommandComplete{CommandTag: []byte("SET")})
		return nil
	}
	if err := s.setReadSetting(p.Name, p.Value, local, p.Value == "" && p.Kind != planner.SetLocal); err != nil {
		return s.stmtError(ctx, err)
	}
	tag := "SET"
	if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(p.SQL)), "RESET") {
		tag = "RESET"
	}
	s.respond(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	return nil
}

func (s *Session) showRouter(ctx context.Context, p *planner.ShowRouter, describe bool) error {
	if view, ok := s.adminView(p.Name); ok {
		s.showView(view, describe)
		return nil
	}
	v, ok := s.routerSetting(p.Name)
	if !ok {
		return s.stmtError(ctx, pgerror.New(pgerror.UndefinedObject, "unrecognized configuration parameter \"%s\"", p.Name))
	}
	if describe {
		s.respond(showDescription(p.Name))
	}
	s.respond(&pgproto3.DataRow{Values: [][]byte{[]byte(v)}})
	s.respond(&pgproto3.CommandComplete{CommandTag: []byte("SHOW")})
	return nil
}

// showDescription is the RowDescription of SHOW name: one text column.
func showDescription(name string) *pgproto3.RowDescription {
	return &pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte(name), DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1}}}
}

// discard runs DISCARD on every backend session of the client.
func (s *Session) discard(ctx context.Context, p *planner.Discard) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.state != txIdle || s.coordinated {
		return s.stmtError(ctx, pgerror.New(pgerror.ActiveSQLTransaction, "DISCARD ALL cannot run inside a transaction block"))
	}
	if len(s.conns) == 0 {
		if _, err := s.conn(ctx, s.snap.Map.DefaultClusterName()); err != nil {
			return s.stmtError(ctx, err)
		}
	}
	var entries []*entry
	first := true
	for _, cl := range s.sortedClusters() {
		c := s.conns[cl]
		c.SendQuery(p.SQL)
		c.unnamed = ""
		var sk sink = errorsOnly{s}
		if first {
			sk, first = clientSink{s}, false
		}
		e := s.newEntry(entry{kind: expQuery, conn: c, sink: sk})
		entries = append(entries, e)
		s.push(e)
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
	if p.Temp {
		s.tempObjects = false
	}
	if p.All {
		s.settings = settings{gen: s.settings.gen + 1, base: s.settings.base}
		s.settings.refresh()
		s.sessionState = false
		for _, c := range s.conns {
			c.Statements.Reset()
			c.Applied = ""
			c.dirty = false
		}
		clear(s.cursors)
		s.ext.reset()
		// Replica sessions hold settings and statements too: they are
		// opened afresh when a read needs one.
		for _, c := range s.replicas {
			c.release(pool.Dirty)
		}
		clear(s.replicas)
		s.publishConns()
	}
	return nil
}

// closeAllCursors runs CLOSE ALL wherever the session has cursors.
func (s *Session) closeAllCursors(ctx context.Context, sql string) error {
	clusters := map[string]bool{}
	for _, cl := range s.cursors {
		clusters[cl] = true
	}
	clear(s.cursors)
	if err := s.drain(ctx); err != nil {
		return err
	}
	for cl := range clusters {
		c, err := s.routeConn(ctx, cl)
		if err != nil {
			return s.stmtError(ctx, err)
		}
		s.internal(c, sql)
	}
	if err := s.drain(ctx); err != nil {
		return err
	}
	s.respond(&pgproto3.CommandComplete{CommandTag: []byte("CLOSE CURSOR ALL")})
	return nil
}

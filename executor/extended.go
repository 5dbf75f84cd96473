package executor

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
)

// Prepared is a client's prepared statement with its plan.
type Prepared struct {
	// Name is the client's name for it ("" = the unnamed statement).
	Name      string
	SQL       string
	ParamOIDs []uint32
	// Stmt is the plan; the proxy replaces it when the shard map changes.
	Stmt planner.Statement
	key  string
}

// backendSQL is the text clusters prepare: the client's, or the planner's
// rewrite of it.
func (ps *Prepared) backendSQL() string {
	if ps.Stmt.Rewritten {
		return ps.Stmt.SQL
	}
	return ps.SQL
}

// NewPrepared makes a prepared statement.
func NewPrepared(name, sql string, oids []uint32, st planner.Statement) *Prepared {
	return &Prepared{Name: name, SQL: sql, ParamOIDs: slices.Clone(oids), Stmt: st, key: backend.StatementKey(sql, oids)}
}

// boundParams are the values of a Bind kept for statements the router
// runs itself or splits between clusters.
type boundParams struct {
	params  planner.Params
	oids    []uint32
	results []int16
	data    []byte
	// ship is set while a join runs its workers with shipped rows.
	ship *shipment
}

func newBoundParams(params planner.Params, oids []uint32, results []int16) *boundParams {
	b := &boundParams{oids: oids}
	b.fill(params, results)
	return b
}

// fill copies params and results into b, reusing b's memory: the
// client's message buffers do not outlive the next message.
func (b *boundParams) fill(params planner.Params, results []int16) {
	size := 0
	for _, v := range params.Values {
		size += len(v)
	}
	data := b.data[:0]
	if cap(data) < size {
		data = make([]byte, 0, size)
	}
	b.params.Formats = append(b.params.Formats[:0], params.Formats...)
	b.results = append(b.results[:0], results...)
	values := b.params.Values[:0]
	for _, v := range params.Values {
		if v == nil {
			values = append(values, nil)
			continue
		}
		start := len(data)
		data = append(data, v...)
		values = append(values, data[start:len(data):len(data)])
	}
	b.params.Values = values
	b.data = data
}

func (b *boundParams) resultFormats() []int16 {
	if b == nil {
		return nil
	}
	return b.results
}

// subset picks parameters by their 1-based numbers, for a statement
// rewritten for one cluster.
func (b *boundParams) subset(nums []int) (*planner.Params, []uint32) {
	p := &planner.Params{Values: make([][]byte, len(nums))}
	var oids []uint32
	perParam := len(b.params.Formats) > 1
	if !perParam {
		p.Formats = b.params.Formats
	} else {
		p.Formats = make([]int16, len(nums))
	}
	if len(b.oids) > 0 {
		oids = make([]uint32, len(nums))
	}
	for i, n := range nums {
		if n < 1 {
			continue // the planner refuses $0; never index with it
		}
		if n-1 < len(b.params.Values) {
			p.Values[i] = b.params.Values[n-1]
		}
		if perParam && n-1 < len(b.params.Formats) {
			p.Formats[i] = b.params.Formats[n-1]
		}
		if n-1 < len(b.oids) {
			oids[i] = b.oids[n-1]
		}
	}
	return p, oids
}

// portal is a client's bound portal.
type portal struct {
	ps *Prepared
	// plan is what runs: the statement's plan, or its Spread plan when the
	// parameters chose several clusters.
	plan planner.Plan
	// conn holds the backend portal of the same name, for statements that
	// run on one cluster.
	conn    *conn
	cluster string
	// bound keeps the parameters of statements the router runs itself or
	// splits.
	bound *boundParams
	// retry, for a read on a replica, can send it again elsewhere.
	retry *readRetry
}

type extendedState struct {
	portals map[string]*portal
	// lazy is a Parse not sent yet: if the next message binds it, it goes
	// to the cluster the parameters choose; otherwise to its home cluster.
	lazy *Prepared
}

func (e *extendedState) init()  { e.portals = map[string]*portal{} }
func (e *extendedState) reset() { clear(e.portals); e.lazy = nil }

// Failed reports whether the current extended-protocol batch has failed:
// the front end then discards messages until Sync.
func (s *Session) Failed() bool { return s.pipe.failed }

// Fail reports a router-side error (a statement the planner refused, a
// malformed message) in order, and fails the batch.
func (s *Session) Fail(ctx context.Context, err error) error {
	if mErr := s.materialize(ctx); mErr != nil {
		return mErr
	}
	if s.state == txBlock {
		s.state = txFailed
	}
	return s.fail(ctx, err)
}

// runsOnOneCluster reports plans whose portal lives on one backend.
func runsOnOneCluster(p planner.Plan) bool {
	switch p := p.(type) {
	case *planner.Route:
		return true
	case *planner.CursorCommand:
		return !p.All
	}
	return false
}

func runsOnBackends(p planner.Plan) bool {
	switch p.(type) {
	case *planner.Broadcast, *planner.SplitInsert, *planner.Scatter, *planner.Combine, *planner.FanOut, *planner.InsertSelect, *planner.Locate, *planner.GenKeys:
		return true
	}
	return runsOnOneCluster(p)
}

// Parse handles a Parse message for a statement the front end planned.
func (s *Session) Parse(ctx context.Context, ps *Prepared) error {
	if err := s.materialize(ctx); err != nil {
		return err
	}
	if s.state == txFailed && !exitsTransaction(ps.Stmt.Plan) {
		return s.fail(ctx, abortedError())
	}
	if !runsOnBackends(ps.Stmt.Plan) {
		// The router answers it, or (a Finish) the coordinator checks it
		// when it is described or run.
		s.respond(&pgproto3.ParseComplete{})
		return nil
	}
	s.ext.lazy = ps
	if !runsOnOneCluster(ps.Stmt.Plan) {
		return s.materialize(ctx)
	}
	return nil
}

// home is the cluster where a statement is parsed and described when no
// parameters say where it runs.
func (s *Session) home(ps *Prepared) (string, error) {
	switch p := ps.Stmt.Plan.(type) {
	case *planner.Route:
		t := p.Target
		switch {
		case len(t.Static) > 0:
			return t.Static[0], nil
		case len(t.AnyOf) > 0:
			return t.AnyOf[0], nil
		case t.Fallback != "":
			return t.Fallback, nil
		}
	case *planner.CursorCommand:
		if cl, ok := s.cursors[p.Name]; ok {
			return cl, nil
		}
		return "", pgerror.New(pgerror.InvalidCursorName, "cursor \"%s\" does not exist", p.Name)
	case *planner.Broadcast:
		return p.Clusters[0], nil
	case *planner.SplitInsert:
		return p.Table.Distribution.Clusters()[0], nil
	case *planner.Scatter:
		return targetHome(p.Target), nil
	case *planner.FanOut:
		return targetHome(p.Target), nil
	case *planner.InsertSelect:
		return p.Home, nil
	case *planner.GenKeys:
		return p.Table.Distribution.Clusters()[0], nil
	case *planner.Combine:
		return targetHome(p.Target), nil
	}
	return s.snap.Map.DefaultClusterName(), nil
}

// targetHome is a cluster of a target that holds the statement's tables.
func targetHome(t planner.Target) string {
	if len(t.Static) > 0 {
		return t.Static[0]
	}
	return t.Fallback
}

// materialize sends a pending Parse to its home cluster.
func (s *Session) materialize(ctx context.Context) error {
	_, _, err := s.materializeOn(ctx)
	return err
}

func (s *Session) materializeOn(ctx context.Context) (*conn, string, error) {
	ps := s.ext.lazy
	if ps == nil {
		return nil, "", nil
	}
	s.ext.lazy = nil
	cluster, err := s.home(ps)
	if err != nil {
		return nil, "", s.fail(ctx, err)
	}
	c, err := s.routeConn(ctx, cluster)
	if err != nil {
		if err == errSkipped {
			return nil, "", nil
		}
		return nil, "", s.fail(ctx, err)
	}
	return c, s.prepareOn(c, ps, true), nil
}

// prepareOn makes ps exist on c and returns its name there. relay says the
// client waits for this Parse's ParseComplete.
func (s *Session) prepareOn(c *conn, ps *Prepared, relay bool) string {
	var sk sink = errorsOnly{s}
	if relay {
		sk = clientSink{s}
	}
	if ps.Name == "" {
		if c.unnamed == ps.key && !relay {
			return ""
		}
		c.Send(&pgproto3.Parse{Query: ps.backendSQL(), ParameterOIDs: ps.ParamOIDs})
		c.unnamed = ps.key
		c.needSync = true
		s.push(s.newEntry(entry{kind: expParse, conn: c, sink: sk, onDone: func(err error) {
			if err != nil {
				c.unnamed = ""
			}
		}}))
		return ""
	}
	if name, ok := c.Statements.Lookup(ps.key); ok {
		if relay {
			s.respond(&pgproto3.ParseComplete{})
		}
		return name
	}
	name := c.Statements.Add(ps.key)
	c.Send(&pgproto3.Parse{Name: name, Query: ps.backendSQL(), ParameterOIDs: ps.ParamOIDs})
	c.needSync = true
	key := ps.key
	s.push(s.newEntry(entry{kind: expParse, conn: c, sink: sk, onDone: func(err error) {
		if err != nil {
			c.Statements.Forget(key)
		}
	}}))
	return name
}

// resolveCluster picks the one cluster a statement's portal runs on. A
// read whose parameters choose several clusters runs as its Spread plan,
// returned instead.
func (s *Session) resolveCluster(plan planner.Plan, params planner.Params) (string, planner.Plan, error) {
	switch p := plan.(type) {
	case *planner.Route:
		if p.Spread != nil {
			cs, err := p.Target.Resolve(params)
			if err != nil {
				return "", nil, err
			}
			if len(cs) > 1 {
				return "", p.Spread, nil
			}
		}
		cl, err := p.Cluster(params)
		return cl, plan, err
	case *planner.CursorCommand:
		if cl, ok := s.cursors[p.Name]; ok {
			return cl, plan, nil
		}
		return "", nil, pgerror.New(pgerror.InvalidCursorName, "cursor \"%s\" does not exist", p.Name)
	}
	return "", nil, pgerror.New(pgerror.InternalError, "plan %T has no single cluster", plan)
}

// Bind handles a Bind message: it chooses the cluster from the parameters
// and binds the portal there.
func (s *Session) Bind(ctx context.Context, portalName string, ps *Prepared, params planner.Params, resultFormats []int16) error {
	s.newStatement()
	if ps.Stmt.TempObjects {
		s.tempObjects = true
	}
	if ps.Stmt.SessionState {
		s.sessionState = true
	}
	lazy := s.ext.lazy == ps
	if !lazy {
		if err := s.materialize(ctx); err != nil {
			return err
		}
	}
	if s.state == txFailed && !exitsTransaction(ps.Stmt.Plan) {
		return s.Fail(ctx, abortedError())
	}
	plan := ps.Stmt.Plan
	var cluster string
	if runsOnOneCluster(plan) {
		var err error
		cluster, plan, err = s.resolveCluster(plan, params)
		if err != nil {
			if lazy {
				s.materialize(ctx)
			}
			return s.Fail(ctx, err)
		}
	}
	if !runsOnOneCluster(plan) {
		if err := s.materialize(ctx); err != nil {
			return err
		}
		s.ext.portals[portalName] = &portal{ps: ps, plan: plan, bound: newBoundParams(params, ps.ParamOIDs, resultFormats)}
		s.respond(&pgproto3.BindComplete{})
		return nil
	}
	readOnly := false
	if r, ok := plan.(*planner.Route); ok {
		readOnly = r.ReadOnly && r.DeclareCursor == ""
	}
	var c *conn
	var err error
	if cc, isCursor := plan.(*planner.CursorCommand); isCursor && s.txnConns[cluster] != nil {
		_ = cc
		c = s.txnConns[cluster]
		err = s.readyConn(ctx, c)
	} else {
		c, err = s.readConn(ctx, cluster, readOnly, ps.Stmt.Consistency)
	}
	if err == nil {
		err = s.enter(ctx, c)
	}
	if err != nil {
		if err == errSkipped {
			return nil
		}
		return s.Fail(ctx, err)
	}
	if !readOnly {
		c.markWrote()
		if s.state == txIdle {
			// Reads later in this implicit transaction must see the write.
			s.batchWrites = true
		}
	}
	s.ext.lazy = nil
	first := len(s.pipe.entries)
	name := s.prepareOn(c, ps, lazy)
	c.SendBind(portalName, name, params.Formats, params.Values, resultFormats)
	c.needSync = true
	s.touched(cluster)
	var sk sink = clientSink{s}
	if name != ps.Name {
		// The server knows the statement by the router's name: errors
		// must speak of the client's.
		sk = renaming{s: s, from: name, to: ps.Name}
	}
	s.push(s.newEntry(entry{kind: expBind, conn: c, sink: sk}))
	p := &portal{ps: ps, plan: plan, conn: c, cluster: cluster}
	if c.replica {
		r := s.newRetry()
		r.cluster, r.hint, r.ps, r.relayParse, r.portal = cluster, ps.Stmt.Consistency, ps, lazy, portalName
		r.params.oids = ps.ParamOIDs
		r.params.fill(params, resultFormats)
		p.retry = r
		for _, e := range s.pipe.entries[first:] {
			e.retry = p.retry
		}
	}
	s.ext.portals[portalName] = p
	return nil
}

// DescribeStatement handles Describe of a prepared statement.
func (s *Session) DescribeStatement(ctx context.Context, ps *Prepared) error {
	lazy := s.ext.lazy == ps
	if !lazy {
		if err := s.materialize(ctx); err != nil {
			return err
		}
	}
	if f, ok := finishOf(ps.Stmt.Plan); ok {
		return s.describeFinish(ctx, f, ps.ParamOIDs, false, nil)
	}
	if seq, ok := ps.Stmt.Plan.(*planner.Sequence); ok {
		return s.describeSequence(ctx, seq, ps.ParamOIDs, false, nil)
	}
	if !runsOnBackends(ps.Stmt.Plan) {
		s.respond(&pgproto3.ParameterDescription{ParameterOIDs: []uint32{}})
		s.respond(s.localDescription(ps.Stmt.Plan))
		return nil
	}
	if s.state == txFailed {
		return s.fail(ctx, abortedError())
	}
	var c *conn
	var name string
	if lazy {
		var err error
		if c, name, err = s.materializeOn(ctx); err != nil || c == nil {
			return err
		}
	} else {
		cluster, err := s.home(ps)
		if err == nil {
			c, err = s.routeConn(ctx, cluster)
		}
		if err != nil {
			if err == errSkipped {
				return nil
			}
			return s.fail(ctx, err)
		}
		name = s.prepareOn(c, ps, false)
	}
	c.Send(&pgproto3.Describe{ObjectType: 'S', Name: name})
	c.needSync = true
	s.push(s.newEntry(entry{kind: expDescribeStmt, conn: c, sink: clientSink{s}}))
	return nil
}

// localDescription is the row shape of a statement the router answers.
func (s *Session) localDescription(p planner.Plan) pgproto3.BackendMessage {
	switch p := p.(type) {
	case *planner.ShowRouter:
		if v, ok := s.adminView(p.Name); ok {
			return v.description()
		}
		return showDescription(p.Name)
	case *planner.ExplainPlan:
		return explainDescription(p)
	}
	return &pgproto3.NoData{}
}

// DescribePortal handles Describe of a portal.
func (s *Session) DescribePortal(ctx context.Context, name string) error {
	if err := s.materialize(ctx); err != nil {
		return err
	}
	p, ok := s.ext.portals[name]
	if !ok {
		return s.Fail(ctx, pgerror.New("34000", "portal \"%s\" does not exist", name))
	}
	if f, ok := finishOf(p.plan); ok {
		return s.describeFinish(ctx, f, p.ps.ParamOIDs, true, p.bound.results)
	}
	if seq, ok := p.plan.(*planner.Sequence); ok {
		return s.describeSequence(ctx, seq, p.ps.ParamOIDs, true, p.bound.results)
	}
	switch {
	case p.conn != nil:
		p.conn.Send(&pgproto3.Describe{ObjectType: 'P', Name: name})
		p.conn.needSync = true
		e := s.newEntry(entry{kind: expDescribePortal, conn: p.conn, sink: clientSink{s}, retry: p.retry})
		if p.retry != nil {
			p.retry.describe = true
		}
		s.push(e)
	case runsOnBackends(p.plan):
		// The portal's parts are bound when it runs; its row shape is the
		// statement's, with the result formats of the Bind.
		cluster, err := s.home(p.ps)
		var c *conn
		if err == nil {
			c, err = s.routeConn(ctx, cluster)
		}
		if err != nil {
			if err == errSkipped {
				return nil
			}
			return s.Fail(ctx, err)
		}
		stmtName := s.prepareOn(c, p.ps, false)
		c.Send(&pgproto3.Describe{ObjectType: 'S', Name: stmtName})
		c.needSync = true
		s.push(s.newEntry(entry{kind: expDescribeStmt, conn: c, sink: &portalShape{s: s, formats: p.bound.results}}))
	default:
		s.respond(s.localDescription(p.plan))
	}
	return nil
}

// portalShape turns a statement's Describe answer into a portal's: no
// ParameterDescription, and the Bind's result formats in the RowDescription.
type portalShape struct {
	s       *Session
	formats []int16
}

func (ps *portalShape) message(typ byte, body []byte) {
	switch typ {
	case 't':
		return
	case 'T':
		var rd pgproto3.RowDescription
		if err := rd.Decode(body); err == nil {
			for i := range rd.Fields {
				switch len(ps.formats) {
				case 0:
					rd.Fields[i].Format = 0
				case 1:
					rd.Fields[i].Format = ps.formats[0]
				default:
					if i < len(ps.formats) {
						rd.Fields[i].Format = ps.formats[i]
					}
				}
			}
			ps.s.client.Send(&rd)
			return
		}
	}
	ps.s.client.WriteRaw(typ, body)
}

// Execute handles an Execute message.
func (s *Session) Execute(ctx context.Context, name string, maxRows uint32) error {
	if err := s.materialize(ctx); err != nil {
		return err
	}
	p, ok := s.ext.portals[name]
	if !ok {
		return s.Fail(ctx, pgerror.New("34000", "portal \"%s\" does not exist", name))
	}
	plan := p.plan
	if s.state == txFailed && !exitsTransaction(plan) {
		return s.Fail(ctx, abortedError())
	}
	if p.conn != nil {
		if !p.conn.participant {
			// The transaction ended since the Bind (a COMMIT in the same
			// batch): the server has dropped the portal, as PostgreSQL
			// would have.
			return s.Fail(ctx, pgerror.New("34000", "portal \"%s\" does not exist", name))
		}
		p.conn.SendExecute(name, maxRows)
		e := s.newEntry(entry{kind: expExecute, conn: p.conn, sink: clientSink{s}, retry: p.retry})
		if p.retry != nil {
			p.retry.executes = append(p.retry.executes, maxRows)
		}
		if r, ok := plan.(*planner.Route); ok && r.DeclareCursor != "" {
			cursor, cluster := r.DeclareCursor, p.cluster
			e.onDone = func(err error) {
				if err == nil {
					s.cursors[cursor] = cluster
				}
			}
		}
		if cc, ok := plan.(*planner.CursorCommand); ok && cc.Close {
			e.onDone = func(err error) {
				if err == nil {
					delete(s.cursors, cc.Name)
				}
			}
		}
		s.push(e)
		return nil
	}
	switch pl := plan.(type) {
	case *planner.Broadcast:
		return s.runBroadcast(ctx, pl, p.ps.Stmt, p.bound)
	case *planner.SplitInsert:
		return s.runSplit(ctx, pl, p.ps.Stmt, p.bound, false)
	case *planner.FanOut:
		return s.runFanOut(ctx, pl, p.ps.Stmt, p.bound)
	case *planner.InsertSelect:
		return s.runInsertSelect(ctx, pl, p.bound)
	case *planner.Locate:
		return s.runLocate(ctx, pl, p.ps.Stmt, p.bound)
	case *planner.GenKeys:
		return s.runGenKeys(ctx, pl, p.ps.Stmt, p.bound)
	case *planner.Finish:
		return s.runFinish(ctx, pl, p.bound, false, p.ps.Stmt.Consistency)
	case *planner.Join:
		return s.runJoin(ctx, pl, p.bound, false, p.ps.Stmt.Consistency)
	case *planner.Sequence:
		return s.runSequence(ctx, pl, p.bound)
	case *planner.Scatter:
		return s.runScatter(ctx, pl, p.bound, false, p.ps.Stmt.Consistency)
	case *planner.Combine:
		return s.runCombine(ctx, pl, p.bound, false, p.ps.Stmt.Consistency)
	case *planner.ExplainPlan:
		return s.runExplain(ctx, pl, p.bound, false)
	case *planner.CopyIn:
		return s.runCopyIn(ctx, pl)
	case *planner.VerticalCopyIn:
		return s.runVerticalCopyIn(ctx, pl)
	case *planner.CopyOut:
		return s.runCopyOut(ctx, pl)
	}
	return s.runLocal(ctx, plan, false)
}

// CloseStatement handles Close of a prepared statement; the front end
// forgets it. Servers keep their copy cached for the next Parse of the
// same text.
func (s *Session) CloseStatement(ctx context.Context) error {
	if err := s.materialize(ctx); err != nil {
		return err
	}
	s.respond(&pgproto3.CloseComplete{})
	return nil
}

// ClosePortal handles Close of a portal.
func (s *Session) ClosePortal(ctx context.Context, name string) error {
	if err := s.materialize(ctx); err != nil {
		return err
	}
	if p, ok := s.ext.portals[name]; ok {
		delete(s.ext.portals, name)
		if p.conn != nil && p.conn.participant {
			p.conn.Send(&pgproto3.Close{ObjectType: 'P', Name: name})
			p.conn.needSync = true
			s.push(s.newEntry(entry{kind: expClose, conn: p.conn, sink: errorsOnly{s}}))
		}
	}
	s.respond(&pgproto3.CloseComplete{})
	return nil
}

// Sync ends an extended-protocol batch: every backend in the batch gets
// Sync, the implicit transaction (if any) ends, and the front end then
// sends ReadyForQuery with TxStatus.
func (s *Session) Sync(ctx context.Context) error {
	if err := s.materialize(ctx); err != nil {
		return err
	}
	syncs := s.syncBuf[:0]
	defer func() { s.syncBuf = syncs[:0] }()
	for _, c := range s.syncOrder() {
		if !c.needSync {
			continue
		}
		c.SendSync()
		c.needSync = false
		// The implicit transaction commits at Sync: a failing commit
		// (deferred constraint) answers here.
		e := s.newEntry(entry{kind: expSync, conn: c, sink: syncSink{s}})
		syncs = append(syncs, e)
		s.push(e)
		if c.wrote && c.participant && !s.coordinated && s.state == txIdle {
			// The write commits at this Sync: learn the primary's position
			// after it, in the same round trip.
			s.queuePosition(c)
		}
	}
	if err := s.drain(ctx); err != nil {
		return err
	}
	failed := s.pipe.failed
	for _, e := range syncs {
		failed = failed || e.err != nil
		if e.conn.participant && e.conn.TxStatus() == 'E' && s.state == txBlock {
			s.state = txFailed
		}
	}
	s.pipe.failed = false
	switch s.state {
	case txBlock:
		if failed {
			s.state = txFailed
		}
	case txIdle:
		if err := s.endTransaction(ctx, !failed); err != nil {
			s.sendError(err)
		}
		clear(s.ext.portals)
	}
	s.batchWrites = false
	s.reportToken()
	s.newStatement()
	s.releaseIdle()
	s.recycleRetries()
	return nil
}

// renaming relays messages, replacing the router's name of a prepared
// statement with the client's in error messages.
type renaming struct {
	s        *Session
	from, to string
}

func (r renaming) message(typ byte, body []byte) {
	if typ == 'E' {
		var msg pgproto3.ErrorResponse
		from, to := quoteIdent(r.from), quoteIdent(r.to)
		if err := msg.Decode(body); err == nil && strings.Contains(msg.Message, from) {
			msg.Message = strings.ReplaceAll(msg.Message, from, to)
			r.s.client.Send(&msg)
			return
		}
	}
	r.s.client.WriteRaw(typ, body)
}

// syncSink relays what a Sync brings: errors of the implicit commit and
// notices.
type syncSink struct{ s *Session }

func (k syncSink) message(typ byte, body []byte) {
	if typ == 'E' || typ == 'N' {
		k.s.client.WriteRaw(typ, body)
	}
}

// Flush handles a Flush message: every response so far is delivered.
func (s *Session) Flush(ctx context.Context) error {
	if err := s.materialize(ctx); err != nil {
		return err
	}
	return s.drain(ctx)
}

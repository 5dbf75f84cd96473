package executor

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
)

// collector gathers what several clusters answer to their parts of one
// statement, to be merged into the one answer the client gets.
type collector struct {
	s       *Session
	notices bool  // relay notices (only the first part's, to avoid repeats)
	errSent *bool // shared: only the first error of the parts reaches the client
	rowDesc []byte
	rows    [][]byte
	tag     string
	err     bool
}

func (c *collector) message(typ byte, body []byte) {
	switch typ {
	case 'T':
		if c.rowDesc == nil {
			c.rowDesc = append([]byte(nil), body...)
		}
	case 'D':
		c.rows = append(c.rows, append([]byte(nil), body...))
	case 'C':
		c.tag = string(trimNul(body))
	case 'N':
		if c.notices {
			c.s.client.WriteRaw(typ, body)
		}
	case 'E':
		c.err = true
		if !*c.errSent {
			*c.errSent = true
			c.s.client.WriteRaw(typ, body)
		}
	}
}

func trimNul(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == 0 {
		return b[:n-1]
	}
	return b
}

// partPortal is the backend portal a part of a multi-cluster statement
// runs in.
const partPortal = "sqlrouter_part"

// multiPart is one cluster's piece of a statement that spans clusters.
type multiPart struct {
	cluster string
	sql     string
	oids    []uint32
	params  *planner.Params // nil for the simple protocol
	rows    []int           // original VALUES rows of a split INSERT
	// quiet drops the part's notices (another part already relays the
	// same ones).
	quiet bool
	// describe asks for the row description of an extended-protocol part
	// (for a client that used the simple protocol).
	describe bool
}

// runParts runs the parts of one statement concurrently on their clusters,
// inside the (coordinated) transaction, and returns each part's collector.
// ok is false when a part failed; its error has reached the client.
func (s *Session) runParts(ctx context.Context, parts []multiPart, resultFormats []int16) ([]*collector, bool, error) {
	if err := s.drain(ctx); err != nil {
		return nil, false, err
	}
	if s.pipe.failed {
		return nil, false, nil
	}
	if err := s.coordinate(ctx); err != nil {
		return nil, false, s.stmtError(ctx, err)
	}
	cols := make([]*collector, len(parts))
	var entries []*entry
	errSent := new(bool)
	for i, p := range parts {
		c, err := s.conn(ctx, p.cluster)
		if err == nil && !c.participant {
			s.syncSettings(c)
		}
		if err == nil {
			err = s.enter(ctx, c)
		}
		if err != nil {
			s.drain(ctx)
			return nil, false, s.stmtError(ctx, err)
		}
		c.markWrote()
		s.routed(c)
		col := &collector{s: s, notices: i == 0 && !p.quiet, errSent: errSent}
		cols[i] = col
		s.touched(p.cluster)
		if p.params == nil {
			c.SendQuery(p.sql)
			c.unnamed = ""
			e := s.newEntry(entry{kind: expQuery, conn: c, sink: col})
			entries = append(entries, e)
			s.push(e)
			continue
		}
		// The unnamed statement and a portal of the router's own: the
		// client's unnamed portal on this conn may still be in use.
		c.Send(&pgproto3.Parse{Query: p.sql, ParameterOIDs: p.oids})
		c.SendBind(partPortal, "", p.params.Formats, p.params.Values, resultFormats)
		if p.describe {
			c.Send(&pgproto3.Describe{ObjectType: 'P', Name: partPortal})
		}
		c.SendExecute(partPortal, 0)
		c.Send(&pgproto3.Close{ObjectType: 'P', Name: partPortal})
		// Sync inside the transaction block: a failed part leaves the
		// server skipping messages until a Sync, and what follows (the
		// ROLLBACK, say) must be heard.
		c.Send(&pgproto3.Sync{})
		c.unnamed = ""
		s.push(s.newEntry(entry{kind: expParse, conn: c, sink: col}))
		s.push(s.newEntry(entry{kind: expBind, conn: c, sink: col}))
		if p.describe {
			s.push(s.newEntry(entry{kind: expDescribePortal, conn: c, sink: col}))
		}
		e := s.newEntry(entry{kind: expExecute, conn: c, sink: col})
		entries = append(entries, e)
		s.push(e)
		s.push(s.newEntry(entry{kind: expClose, conn: c}))
		s.push(s.newEntry(entry{kind: expSync, conn: c}))
	}
	// Every part was sent before any answer is read: the clusters work at
	// the same time. A failure anywhere fails the whole transaction, so
	// nothing a part did can survive it.
	s.pipe.busy = nil
	saved := s.pipe.failed
	if err := s.drain(ctx); err != nil {
		return nil, false, err
	}
	s.pipe.failed = saved
	for i, col := range cols {
		if col.err || entries[i].err != nil {
			s.statementFailed()
			return nil, false, nil
		}
	}
	return cols, true, nil
}

// runBroadcast runs one statement on every listed cluster.
//
// A transactional broadcast runs on the first listed cluster alone first,
// and on the others only once it succeeded there. Two transactions that
// write the same row of a reference table therefore meet on the first
// copy, where the second waits for the first's row lock before it touches
// any other copy; sent everywhere at once, each could lock a different
// copy first and then wait forever for the other (no server sees both
// halves of that deadlock). The order is the plan's: every session and
// every router uses the same one.
func (s *Session) runBroadcast(ctx context.Context, b *planner.Broadcast, st planner.Statement, bound *boundParams) error {
	if !b.Transactional {
		return s.runOneByOne(ctx, b, st)
	}
	parts := make([]multiPart, len(b.Clusters))
	for i, cl := range b.Clusters {
		parts[i] = multiPart{cluster: cl, sql: st.SQL, quiet: i > 0}
		if bound != nil {
			parts[i].params, parts[i].oids = &bound.params, bound.oids
		}
	}
	cols, ok, err := s.runFirstThenRest(ctx, parts, bound.resultFormats())
	if err != nil || !ok {
		return err
	}
	if !b.DataWrite {
		// DDL may have changed a key's default, or made its sequence
		// again: every session looks again.
		s.cfg.Keys.schemaChanged()
	}
	if b.Sequences != nil {
		if err := s.rangeSequences(ctx, b.Sequences, b.Clusters); err != nil {
			return s.stmtError(ctx, err)
		}
	}
	if b.Coordinator && s.snap.Map.Coordinator != "" {
		// The scratch coordinator gets the object too; it holds no data,
		// so a failure there is a warning, not the statement's failure.
		if cc, err := s.coordinator(ctx); err != nil {
			s.client.Send(warning("01000", "the coordinator did not get this statement: "+err.Error()))
		} else if err := cc.Exec(ctx, st.SQL); err != nil {
			s.client.Send(warning("01000", "the coordinator did not get this statement: "+err.Error()))
		}
	}
	// Every copy ran the same statement; the first one's answer is the
	// answer.
	first := cols[0]
	if first.rowDesc != nil && bound == nil {
		s.client.WriteRaw('T', first.rowDesc)
	}
	for _, r := range first.rows {
		s.client.WriteRaw('D', r)
	}
	s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte(first.tag)})
	return nil
}

// runFirstThenRest runs the first part alone, then the others together.
func (s *Session) runFirstThenRest(ctx context.Context, parts []multiPart, resultFormats []int16) ([]*collector, bool, error) {
	cols, ok, err := s.runParts(ctx, parts[:1], resultFormats)
	if err != nil || !ok || len(parts) == 1 {
		return cols, ok, err
	}
	rest, ok, err := s.runParts(ctx, parts[1:], resultFormats)
	if err != nil || !ok {
		return nil, ok, err
	}
	return append(cols, rest...), true, nil
}

// runOneByOne runs a statement that cannot run in a transaction (VACUUM)
// on each cluster in turn.
func (s *Session) runOneByOne(ctx context.Context, b *planner.Broadcast, st planner.Statement) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.state != txIdle || s.coordinated || len(s.participants) > 0 {
		cmd := b.Command
		if cmd == "" {
			cmd = strings.ToUpper(strings.Fields(st.SQL)[0])
		}
		return s.stmtError(ctx, pgerror.New(pgerror.ActiveSQLTransaction, "%s cannot run inside a transaction block", cmd))
	}
	var tag string
	errSent := new(bool)
	for i, cl := range b.Clusters {
		c, err := s.routeConn(ctx, cl)
		if err != nil {
			return s.stmtError(ctx, err)
		}
		col := &collector{s: s, notices: i == 0, errSent: errSent}
		s.touched(cl)
		c.SendQuery(st.SQL)
		c.unnamed = ""
		s.push(s.newEntry(entry{kind: expQuery, conn: c, sink: col}))
		if err := s.drain(ctx); err != nil {
			return err
		}
		if col.err {
			s.statementFailed()
			return nil
		}
		tag = col.tag
	}
	s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	return nil
}

// runSplit runs a multi-row INSERT whose rows belong to several clusters,
// each cluster inserting its own rows, in one transaction. RETURNING rows
// come back in the order of the VALUES list, as from one server. describe
// sends the row description (a simple-protocol client).
func (s *Session) runSplit(ctx context.Context, sp *planner.SplitInsert, st planner.Statement, bound *boundParams, describe bool) error {
	params, _ := bound.values()
	split, err := sp.Split(params)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	parts := make([]multiPart, len(split))
	for i, p := range split {
		parts[i] = multiPart{cluster: p.Cluster, sql: p.SQL, rows: p.Rows}
		if bound != nil {
			parts[i].params, parts[i].oids = bound.subset(p.Params)
		}
	}
	parts[0].describe = describe && sp.Returning && bound != nil
	cols, ok, err := s.runParts(ctx, parts, bound.resultFormats())
	if err != nil || !ok {
		return err
	}
	var tags []string
	for _, col := range cols {
		tags = append(tags, col.tag)
	}
	if sp.Returning {
		ordered, ok := s.inOrder(parts, cols, len(sp.Keys))
		if !ok {
			return nil
		}
		if describe {
			for _, col := range cols {
				if col.rowDesc != nil {
					s.client.WriteRaw('T', col.rowDesc)
					break
				}
			}
		}
		for _, r := range ordered {
			s.client.WriteRaw('D', r)
		}
	}
	s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte(sumTags(tags))})
	return nil
}

// inOrder puts the RETURNING rows of the parts of a split INSERT back in
// the order of the statement's total rows. ok is false, with the error
// sent and the statement failed, when a part returned another number of
// rows than it inserted (a trigger or rule): the order cannot be rebuilt,
// so the statement must not stand.
func (s *Session) inOrder(parts []multiPart, cols []*collector, total int) ([][]byte, bool) {
	ordered := make([][]byte, total)
	for i, col := range cols {
		if len(col.rows) != len(parts[i].rows) {
			s.sendError(pgerror.Unsupported("INSERT ... RETURNING over several clusters returned %d rows for %d inserted on cluster %s; the order of the returned rows could not be kept", len(col.rows), len(parts[i].rows), parts[i].cluster))
			s.statementFailed()
			return nil, false
		}
		for j, r := range col.rows {
			ordered[parts[i].rows[j]] = r
		}
	}
	return ordered, true
}

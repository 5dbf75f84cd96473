package executor

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
)

// stagedBatch is how many staged rows are read from the coordinator and
// inserted into the groups at a time: memory holds one batch.
const stagedBatch = 5000

// stagedCursor names the coordinator's cursor over the staged rows.
const stagedCursor = "_sqlrouter_staged"

// runVerticalCopyIn runs COPY ... FROM STDIN into a vertically
// partitioned table: the client's data goes into a temporary table of
// the coordinator typed like the groups' columns, then each group
// inserts its columns of the rows, batch by batch, split by key, in the
// client's transaction (made one that spans clusters).
func (s *Session) runVerticalCopyIn(ctx context.Context, p *planner.VerticalCopyIn) error {
	if ok, err := s.settle(ctx, false); !ok {
		return err
	}
	if err := s.coordinate(ctx); err != nil {
		return s.stmtError(ctx, err)
	}
	saved := s.batchWrites
	s.batchWrites = true // the groups are described on their primaries, in the transaction
	defer func() { s.batchWrites = saved }()
	types, err := s.stagedTypes(ctx, p)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	tx, err := s.openCoordinator(ctx)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	cc := tx.cc
	defer tx.close(ctx)
	var ddl strings.Builder
	ddl.WriteString("CREATE TEMP TABLE " + p.Stage + " (")
	for i, c := range p.Columns {
		if i > 0 {
			ddl.WriteString(", ")
		}
		ddl.WriteString(quoteIdent(c) + " " + types[c])
	}
	ddl.WriteString(") ON COMMIT DROP")
	if err := cc.Exec(ctx, ddl.String()); err != nil {
		return s.stmtError(ctx, err)
	}
	tag, ok, err := s.stageCopy(ctx, cc, p.Copy)
	if err != nil || !ok {
		return err
	}
	for _, g := range p.Groups {
		if ok, err := s.insertStaged(ctx, cc, g); err != nil || !ok {
			return err
		}
	}
	if err := tx.commit(ctx); err != nil {
		return s.stmtError(ctx, err)
	}
	s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	return nil
}

// stagedTypes finds the SQL type of each column of the COPY from the
// group table that holds it.
func (s *Session) stagedTypes(ctx context.Context, p *planner.VerticalCopyIn) (map[string]string, error) {
	out := map[string]string{}
	for _, g := range p.Groups {
		conns, err := s.prepareReaders(ctx, []string{g.Home}, reading{readOnly: true})
		if err != nil {
			return nil, err
		}
		_, types, err := s.describeTyped(ctx, conns[0], g.Describe, nil)
		if err != nil {
			return nil, err
		}
		for i, c := range g.Columns {
			out[c] = types[i]
		}
	}
	return out, nil
}

// stageCopy runs the client's COPY into the coordinator's temporary
// table: the coordinator's CopyInResponse goes to the client and the
// client's data to the coordinator. It returns the command tag; ok is
// false when the COPY failed and the client has PostgreSQL's error.
func (s *Session) stageCopy(ctx context.Context, cc *conn, sql string) (string, bool, error) {
	cc.SendQuery(sql)
	cc.unnamed = ""
	if err := cc.Flush(ctx); err != nil {
		return "", false, s.stmtError(ctx, err)
	}
	started := false
	for !started {
		typ, body, err := cc.Receive(ctx)
		if err != nil {
			return "", false, s.stmtError(ctx, err)
		}
		switch typ {
		case 'G':
			s.client.WriteRaw('G', body)
			if err := s.client.Flush(); err != nil {
				return "", false, err
			}
			started = true
		case 'N':
			s.client.WriteRaw(typ, body)
		case 'E', 'Z':
			return s.stagedAnswer(ctx, cc, typ, body)
		}
	}
	for end := false; !end; {
		msg, err := s.client.ReceiveCopy()
		if err != nil {
			cc.Send(&pgproto3.CopyFail{Message: "client connection lost during COPY"})
			cc.Flush(ctx)
			return "", false, err
		}
		switch msg.(type) {
		case *pgproto3.CopyDone, *pgproto3.CopyFail:
			end = true
		}
		cc.Send(msg)
		if err := cc.Flush(ctx); err != nil {
			return "", false, s.stmtError(ctx, err)
		}
	}
	return s.stagedAnswer(ctx, cc, 0, nil)
}

// stagedAnswer reads the coordinator's answer to the staging COPY up to
// ReadyForQuery, starting with a message already received (typ 0: none).
func (s *Session) stagedAnswer(ctx context.Context, cc *conn, typ byte, body []byte) (string, bool, error) {
	var tag string
	var failed *pgproto3.ErrorResponse
	for {
		switch typ {
		case 'C':
			tag = string(trimNul(body))
		case 'E':
			if failed == nil {
				failed = decodeError(body)
			}
		case 'N':
			s.client.WriteRaw(typ, body)
		case 'Z':
			if failed != nil {
				s.client.Send(failed)
				s.statementFailed()
				return "", false, nil
			}
			if !strings.HasPrefix(tag, "COPY ") {
				return "", false, s.stmtError(ctx, pgerror.New(pgerror.ProtocolViolation, "the coordinator answered COPY with %q", tag))
			}
			return tag, true, nil
		}
		var err error
		if typ, body, err = cc.Receive(ctx); err != nil {
			return "", false, s.stmtError(ctx, err)
		}
	}
}

// insertStaged inserts one group's columns of the staged rows into its
// clusters, a batch at a time. ok is false when an insert failed and the
// client has its error.
func (s *Session) insertStaged(ctx context.Context, cc *conn, g planner.VerticalCopyGroup) (bool, error) {
	if err := cc.Exec(ctx, "DECLARE "+stagedCursor+" NO SCROLL CURSOR FOR "+g.Read); err != nil {
		return false, s.stmtError(ctx, err)
	}
	perStatement := maxParamsPerStatement / len(g.Columns)
	for {
		src, err := fetchStaged(ctx, cc)
		if err != nil {
			return false, s.stmtError(ctx, err)
		}
		if len(src.rows) == 0 {
			break
		}
		placed, order, err := placeRows(g.Insert, src)
		if err != nil {
			return false, s.stmtError(ctx, err)
		}
		var parts []multiPart
		for _, cl := range order {
			for rows := placed[cl]; len(rows) > 0; {
				n := min(len(rows), perStatement)
				parts = append(parts, insertPart(g.Insert, src, paramSet{}, cl, rows[:n]))
				rows = rows[n:]
			}
		}
		if _, ok, err := s.runParts(ctx, parts, nil); err != nil || !ok {
			return ok, err
		}
	}
	if err := cc.Exec(ctx, "CLOSE "+stagedCursor); err != nil {
		return false, s.stmtError(ctx, err)
	}
	return true, nil
}

// fetchStaged reads the next batch of staged rows, in text.
func fetchStaged(ctx context.Context, cc *conn) (*sourceRows, error) {
	cc.SendQuery("FETCH " + strconv.Itoa(stagedBatch) + " FROM " + stagedCursor)
	cc.unnamed = ""
	if err := cc.Flush(ctx); err != nil {
		return nil, err
	}
	src := &sourceRows{}
	var failed error
	for {
		typ, body, err := cc.Receive(ctx)
		if err != nil {
			return nil, err
		}
		switch typ {
		case 'T':
			if src.fields, err = decodeFields(body); err != nil {
				return nil, err
			}
			src.formats = make([]int16, len(src.fields))
		case 'D':
			src.rows = append(src.rows, append([]byte(nil), body...))
		case 'E':
			if failed == nil {
				failed = serverError(body)
			}
		case 'Z':
			return src, failed
		}
	}
}

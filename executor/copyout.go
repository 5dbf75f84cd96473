package executor

import (
	"context"
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
)

// runCopyOut runs COPY ... TO STDOUT of rows on several clusters: every
// cluster copies out its share and the streams are concatenated (one
// header line, one binary file header and trailer), or the coordinator
// copies out a query it finished over gathered rows.
func (s *Session) runCopyOut(ctx context.Context, p *planner.CopyOut) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.pipe.failed {
		return nil
	}
	if p.Query != nil {
		return s.copyOutFinish(ctx, p)
	}
	conns, err := s.prepareReaders(ctx, p.Clusters, reading{readOnly: true})
	if err != nil {
		return s.stmtError(ctx, err)
	}
	for _, c := range conns {
		// Every cluster starts at once; each answer is read in turn.
		s.touched(c.cluster)
		c.SendQuery(p.SQL)
		c.unnamed = ""
		if err := c.Flush(ctx); err != nil {
			s.backendLost(c, err)
			return s.stmtError(ctx, err)
		}
	}
	out := &copyOutConcat{s: s, p: p}
	var lostErr error
	for i, c := range conns {
		if err := out.read(ctx, i, c); err != nil && lostErr == nil {
			lostErr = err
		}
	}
	switch {
	case lostErr != nil:
		return s.stmtError(ctx, lostErr)
	case out.failed:
		s.statementFailed()
		return nil
	}
	if !out.started {
		return s.stmtError(ctx, pgerror.New(pgerror.InternalError, "no cluster started COPY"))
	}
	if p.Binary {
		s.client.WriteRaw('d', []byte{0xff, 0xff})
	}
	s.client.WriteRaw('c', nil)
	s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte("COPY " + strconv.FormatInt(out.rows, 10))})
	return nil
}

// copyOutConcat concatenates the clusters' COPY TO STDOUT streams.
type copyOutConcat struct {
	s       *Session
	p       *planner.CopyOut
	started bool // the CopyOutResponse went to the client
	failed  bool // an error went to the client
	rows    int64
}

// read relays one cluster's answer. Binary: the file header of every
// cluster but the first is dropped, and every cluster's trailer (its last
// two bytes, held back as they stream) too; one trailer ends the whole.
// Text and csv with HEADER: every cluster but the first sends its header
// line as its first CopyData, which is dropped.
func (o *copyOutConcat) read(ctx context.Context, i int, c *conn) error {
	s := o.s
	skipHeader := 0
	if i > 0 && o.p.Binary {
		skipHeader = -1 // not known until the fixed part arrived
	}
	dropFirst := i > 0 && o.p.Header
	var head, scratch []byte
	var held [2]byte
	nheld := 0
	for {
		typ, body, err := c.Receive(ctx)
		if err != nil {
			s.backendLost(c, err)
			return err
		}
		switch typ {
		case 'H':
			if !o.started && !o.failed {
				s.client.WriteRaw(typ, body)
				o.started = true
			}
		case 'd':
			if o.failed || !o.started {
				continue
			}
			if dropFirst {
				dropFirst = false
				continue
			}
			if !o.p.Binary {
				s.client.WriteRaw(typ, body)
				continue
			}
			data := body
			if skipHeader != 0 {
				head = append(head, data...)
				if skipHeader < 0 {
					if len(head) < 19 {
						continue
					}
					skipHeader = 19 + max(int(int32(binary.BigEndian.Uint32(head[15:19]))), 0)
				}
				if len(head) < skipHeader {
					continue
				}
				data = head[skipHeader:]
				skipHeader = 0
			}
			// Hold back the last two bytes: they may be the trailer.
			all := data
			if nheld > 0 {
				scratch = append(append(scratch[:0], held[:nheld]...), data...)
				all = scratch
			}
			if len(all) <= 2 {
				nheld = copy(held[:], all)
				continue
			}
			s.client.WriteRaw('d', all[:len(all)-2])
			nheld = copy(held[:], all[len(all)-2:])
		case 'c':
			// The end of this cluster's share; the client gets one at the
			// very end.
		case 'C':
			if f := strings.Fields(string(trimNul(body))); len(f) == 2 && f[0] == "COPY" {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				o.rows += n
			}
		case 'E':
			if !o.failed {
				o.failed = true
				s.client.WriteRaw(typ, body)
			}
		case 'N':
			if i == 0 {
				s.client.WriteRaw(typ, body)
			}
		case 'S':
			c.statuses = append(c.statuses, append([]byte(nil), body...))
		case 'Z':
			return nil
		}
	}
}

// copyOutFinish gathers a query's tables at the coordinator, which then
// copies out the final query: PostgreSQL computes and formats every row.
func (s *Session) copyOutFinish(ctx context.Context, p *planner.CopyOut) error {
	tx, err := s.openCoordinator(ctx)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	cc := tx.cc
	defer func() {
		tx.close(ctx)
		s.collectStatuses(nil)
	}()
	for _, g := range p.Query.Gathers {
		if err := s.gather(ctx, cc, g, planner.Params{}, nil, reading{readOnly: true}); err != nil {
			return s.stmtError(ctx, err)
		}
	}
	cc.SendQuery(p.FinalCopy)
	cc.unnamed = ""
	if err := cc.Flush(ctx); err != nil {
		return s.stmtError(ctx, err)
	}
	failed := false
	for {
		typ, body, err := cc.Receive(ctx)
		if err != nil {
			return s.stmtError(ctx, err)
		}
		switch typ {
		case 'H', 'd', 'c', 'C', 'N':
			s.client.WriteRaw(typ, body)
		case 'E':
			failed = true
			s.relayWithoutPosition(body)
		case 'S':
			cc.statuses = append(cc.statuses, append([]byte(nil), body...))
		case 'Z':
			if failed {
				s.statementFailed()
				return nil
			}
			if err := tx.commit(ctx); err != nil {
				return s.stmtError(ctx, err)
			}
			return nil
		}
	}
}

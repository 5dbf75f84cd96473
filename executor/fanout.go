package executor

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/planner"
)

// runFanOut runs a write on every cluster its target resolves to, in the
// client's transaction: the clusters' command tags are added up and their
// RETURNING rows concatenated.
func (s *Session) runFanOut(ctx context.Context, f *planner.FanOut, st planner.Statement, bound *boundParams) error {
	params, _ := bound.values()
	clusters, err := f.Target.Resolve(params)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	parts := make([]multiPart, len(clusters))
	for i, cl := range clusters {
		parts[i] = multiPart{cluster: cl, sql: st.SQL}
		if bound != nil {
			parts[i].params, parts[i].oids = &bound.params, bound.oids
		}
	}
	cols, ok, err := s.runParts(ctx, parts, bound.resultFormats())
	if err != nil || !ok {
		return err
	}
	s.relayConcatenated(cols, bound == nil)
	return nil
}

// values returns the parameters of a Bind and their declared types (none
// for the simple protocol).
func (b *boundParams) values() (planner.Params, []uint32) {
	if b == nil {
		return planner.Params{}, nil
	}
	return b.params, b.oids
}

// settle delivers what is queued before a statement the router spreads
// itself; ok is false when the batch has already failed. With block, a
// transaction under way becomes a block on every cluster it reached: the
// router's own queries end with Sync, which would end an implicit one.
func (s *Session) settle(ctx context.Context, block bool) (bool, error) {
	if err := s.drain(ctx); err != nil {
		return false, err
	}
	if s.pipe.failed {
		return false, nil
	}
	if block && len(s.participants) > 0 {
		if err := s.coordinate(ctx); err != nil {
			return false, s.stmtError(ctx, err)
		}
	}
	return true, nil
}

// relayConcatenated sends the clusters' rows one cluster after another and
// one command tag with their counts added up. describe sends the row
// description first (simple protocol).
func (s *Session) relayConcatenated(cols []*collector, describe bool) {
	if describe {
		for _, col := range cols {
			if col.rowDesc != nil {
				s.client.WriteRaw('T', col.rowDesc)
				break
			}
		}
	}
	tags := make([]string, 0, len(cols))
	for _, col := range cols {
		for _, r := range col.rows {
			s.client.WriteRaw('D', r)
		}
		tags = append(tags, col.tag)
	}
	s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte(sumTags(tags))})
}

// sumTags adds up command tags of one kind ("UPDATE 2" and "UPDATE 3" give
// "UPDATE 5"; "INSERT 0 n" keeps its zero oid).
func sumTags(tags []string) string {
	var prefix string
	var total int64
	for _, t := range tags {
		i := strings.LastIndexByte(t, ' ')
		if i < 0 {
			continue
		}
		n, err := strconv.ParseInt(t[i+1:], 10, 64)
		if err != nil {
			continue
		}
		prefix = t[:i+1]
		total += n
	}
	if prefix == "" && len(tags) > 0 {
		return tags[0]
	}
	return prefix + strconv.FormatInt(total, 10)
}

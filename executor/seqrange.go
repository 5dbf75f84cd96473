package executor

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/sqlrouter/sqlrouter/idrange"
	"github.com/sqlrouter/sqlrouter/planner"
)

// SequenceSlots gives each cluster its slot of sequence values (package
// idrange keeps them in etcd).
type SequenceSlots interface {
	Slot(ctx context.Context, cluster string) (int, error)
}

// slot returns a cluster's sequence slot.
func (s *Session) slot(ctx context.Context, cluster string) (int, error) {
	if s.cfg.Slots != nil {
		return s.cfg.Slots.Slot(ctx, cluster)
	}
	return slices.Index(slices.Sorted(slices.Values(s.snap.Map.ClusterNames)), cluster), nil
}

// The sequences of a scope: their name, type, increment, bounds, and the
// last value handed out (NULL when none was).
const (
	ownedSequences = `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, pg_sequence_last_value(s.seqrelid)
FROM pg_depend d JOIN pg_sequence s ON s.seqrelid = d.objid JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = to_regclass($1) AND d.deptype IN ('a', 'i')`
	namedSequence = `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, pg_sequence_last_value(s.seqrelid)
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE s.seqrelid = to_regclass($1)`
)

// rangeSequences gives each cluster's copy of the scope's sequences the
// values of that cluster's slot: MINVALUE and MAXVALUE bound them, and a
// sequence that never handed out a value starts at its range's first
// (its last, counting down). It runs in the DDL's transaction, on the
// clusters' conns. A sequence that already handed out values outside its
// range is left as it is, with a warning.
func (s *Session) rangeSequences(ctx context.Context, scope *planner.SequenceScope, clusters []string) error {
	sql, name := ownedSequences, scope.Table
	if name == "" {
		sql, name = namedSequence, scope.Sequence
	}
	for _, cl := range clusters {
		c := s.conns[cl]
		slot, err := s.slot(ctx, cl)
		if err != nil {
			return err
		}
		rows, err := c.queryParams(ctx, sql, nil, [][]byte{[]byte(name)}, nil)
		if err != nil {
			return err
		}
		for _, r := range rows {
			seq, typ := r[0], r[1]
			inc, _ := strconv.ParseInt(r[2], 10, 64)
			lo, hi, err := idrange.Range(typ, slot)
			if err != nil {
				return fmt.Errorf("sequence %s on cluster %s: %w", seq, cl, err)
			}
			if r[3] == strconv.FormatInt(lo, 10) && r[4] == strconv.FormatInt(hi, 10) {
				continue
			}
			start := lo
			if inc < 0 {
				start = hi
			}
			alter := fmt.Sprintf("ALTER SEQUENCE %s MINVALUE %d MAXVALUE %d START WITH %d", seq, lo, hi, start)
			if last := r[5]; last == "" {
				alter += fmt.Sprintf(" RESTART WITH %d", start)
			} else if v, _ := strconv.ParseInt(last, 10, 64); v < lo || v > hi {
				s.client.Send(warning("01000", fmt.Sprintf("sequence %s on cluster %s has handed out %d, outside the cluster's id range %d..%d: its values are left as they are", seq, cl, v, lo, hi)))
				continue
			}
			if err := c.Exec(ctx, alter); err != nil {
				return err
			}
		}
	}
	return nil
}

package executor

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
)

// runCombine runs a Combine: the clusters' partial aggregates are loaded
// into the coordinator's temporary table _sqlrouter_partial (columns c1,
// c2, ...), where the final query combines them.
func (s *Session) runCombine(ctx context.Context, cb *planner.Combine, bound *boundParams, describe bool, hint string) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.pipe.failed {
		return nil
	}
	params, oids := bound.values()
	tx, err := s.openCoordinator(ctx)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	cc := tx.cc
	defer func() {
		tx.close(ctx)
		s.collectStatuses(nil)
	}()
	fields, types, err := s.load(ctx, cc, "_sqlrouter_partial", true, cb.Worker, cb.Params, cb.Target, params, oids, reading{readOnly: cb.ReadOnly, hint: hint, ship: bound.shipment()})
	if err != nil {
		return s.stmtError(ctx, err)
	}
	final := cb.Final
	for _, f := range cb.Finals {
		expr, err := finalExpr(f, fields, types)
		if err != nil {
			return s.stmtError(ctx, err)
		}
		final = strings.ReplaceAll(final, f.Token, expr)
	}
	values, formats, fOIDs := subsetParams(params, oids, cb.FinalParams)
	failed, err := s.finalQuery(ctx, cc, final, planner.Params{Values: values, Formats: formats}, fOIDs, bound.resultFormats(), describe)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	if failed {
		s.statementFailed()
		return nil
	}
	if err := tx.commit(ctx); err != nil {
		return s.stmtError(ctx, err)
	}
	return nil
}

// Type OIDs of partial sums.
const oidInterval = 1186

// finalExpr writes the combination of partial sums (sum) or of partial
// sums and counts (avg) so that it has the type the aggregate has in
// PostgreSQL: sum keeps the type of the partial sums (sum(int4) is int8 on
// each cluster and stays int8), avg divides as numeric for integer and
// numeric inputs, as float8 for floats, as interval for intervals, the
// way PostgreSQL's own avg does.
func finalExpr(f planner.FinalExpr, fields []pgproto3.FieldDescription, types []string) (string, error) {
	c := f.Columns[0]
	if c < 1 || c > len(fields) {
		return "", pgerror.New(pgerror.InternalError, "partial column %d out of range", c)
	}
	switch f.Kind {
	case "sum":
		return fmt.Sprintf("(sum(c%d)::%s)", c, types[c-1]), nil
	case "avg":
		n := f.Columns[1]
		switch fields[c-1].DataTypeOID {
		case oidInt8, oidNumeric:
			return fmt.Sprintf("(sum(c%d)::numeric / nullif(sum(c%d), 0)::numeric)", c, n), nil
		case oidFloat4, oidFloat8:
			return fmt.Sprintf("(sum(c%d)::float8 / nullif(sum(c%d), 0)::float8)", c, n), nil
		case oidInterval:
			return fmt.Sprintf("(sum(c%d) / nullif(sum(c%d), 0)::float8)", c, n), nil
		}
		return "", pgerror.Unsupported("avg over values of type oid %d across clusters is not supported", fields[c-1].DataTypeOID)
	}
	return "", pgerror.New(pgerror.InternalError, "unknown final aggregate %q", f.Kind)
}

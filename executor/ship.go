package executor

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
)

// A join strategy ships rows to clusters as parameters of the worker: one
// array per column, in text format, which the worker turns back into rows
// with unnest() where the plan names the shipped table. Parameters work on
// replicas and need no temporary table, and the rows keep their types
// exactly (each value travels as its own text form, cast back to its
// column's type).

// shipment is the rows a join ships with each worker.
type shipment struct {
	s *Session
	// all are the parameters every cluster gets (broadcast); byCluster,
	// when set, each cluster's own (repartition). rows count the rows in
	// them.
	all       [][]byte
	allRows   int64
	byCluster map[string][][]byte
	rows      map[string]int64
}

// shipment returns the rows a join ships with its worker, if any.
func (b *boundParams) shipment() *shipment {
	if b == nil {
		return nil
	}
	return b.ship
}

// params appends the rows shipped to a cluster to a worker's parameters
// and counts them as shipped.
func (sh *shipment) params(cluster string, values [][]byte, formats []int16) ([][]byte, []int16) {
	if sh == nil {
		return values, formats
	}
	extra, n := sh.all, sh.allRows
	if sh.byCluster != nil {
		extra, n = sh.byCluster[cluster], sh.rows[cluster]
	}
	sh.s.countShipped(n)
	out := append(slices.Clone(values), extra...)
	switch len(formats) {
	case 0: // every parameter in text
	case 1:
		all := make([]int16, len(values)+len(extra))
		for i := range values {
			all[i] = formats[0]
		}
		formats = all
	default:
		formats = append(slices.Clone(formats), make([]int16, len(extra))...)
	}
	return out, formats
}

// sideRows are the rows of one side of a join, read to be shipped.
type sideRows struct {
	fields []pgproto3.FieldDescription
	// types are the columns' SQL types, collations their COLLATE clauses
	// ("" for none).
	types, collations []string
	rows              [][][]byte // text values; nil for NULL
}

// errTooManyRows stops reading a side that is larger than its estimate
// promised: the join falls back to gathering at the coordinator.
var errTooManyRows = pgerror.New(pgerror.InternalError, "a join side has more rows than a shipping strategy holds")

// readSide reads the rows of a side into memory, at most limit of them.
func (s *Session) readSide(ctx context.Context, g *planner.Gather, params planner.Params, oids []uint32, hint string, limit int) (*sideRows, error) {
	clusters, err := g.Target.Resolve(params)
	if err != nil {
		return nil, err
	}
	values, formats, gOIDs := subsetParams(params, oids, g.Params)
	conns, err := s.prepareReaders(ctx, clusters, reading{readOnly: true, hint: hint})
	if err != nil {
		return nil, err
	}
	fields, types, err := s.describeTyped(ctx, conns[0], g.SQL, gOIDs)
	if err != nil {
		return nil, err
	}
	side := &sideRows{fields: fields}
	for _, t := range types {
		base, coll, _ := strings.Cut(t, " COLLATE ")
		if coll != "" {
			coll = " COLLATE " + coll
		}
		side.types = append(side.types, base)
		side.collations = append(side.collations, coll)
	}
	key := backend.StatementKey(g.SQL, gOIDs)
	for _, c := range conns {
		s.touched(c.cluster)
		if c.unnamed != key {
			c.Send(&pgproto3.Parse{Query: g.SQL, ParameterOIDs: gOIDs})
			c.unnamed = key
		}
		c.Send(&pgproto3.Bind{ParameterFormatCodes: formats, Parameters: values})
		c.Send(&pgproto3.Execute{})
		c.Send(&pgproto3.Sync{})
		c.needSync = false
		if err := c.Flush(ctx); err != nil {
			return nil, err
		}
	}
	var firstErr error
	for _, c := range conns {
		for done := false; !done; {
			typ, body, err := c.Receive(ctx)
			if err != nil {
				return nil, err
			}
			switch typ {
			case 'D':
				if firstErr != nil {
					continue
				}
				if len(side.rows) >= limit {
					firstErr = errTooManyRows
					continue
				}
				var dr pgproto3.DataRow
				if err := dr.Decode(body); err != nil {
					return nil, err
				}
				row := make([][]byte, len(dr.Values))
				for i, v := range dr.Values {
					if v != nil {
						row[i] = slices.Clone(v)
					}
				}
				side.rows = append(side.rows, row)
			case 'E':
				if firstErr == nil {
					firstErr = serverError(body)
				}
			case 'S':
				c.statuses = append(c.statuses, append([]byte(nil), body...))
			case 'Z':
				done = true
			}
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return side, nil
}

// shippable reports whether the side's rows can travel as arrays: an array
// column would become a dimension of the parameter, not an element, and
// box separates the elements of its arrays with semicolons.
func (side *sideRows) shippable() bool {
	if len(side.fields) == 0 {
		return false
	}
	for _, t := range side.types {
		if strings.HasSuffix(t, "]") || t == "box" {
			return false
		}
	}
	return true
}

// arrays writes the chosen rows of a side as one array literal per column.
func (side *sideRows) arrays(rows []int) [][]byte {
	out := make([][]byte, len(side.fields))
	for col := range side.fields {
		var b []byte
		b = append(b, '{')
		for i, r := range rows {
			if i > 0 {
				b = append(b, ',')
			}
			v := side.rows[r][col]
			if v == nil {
				b = append(b, "NULL"...)
				continue
			}
			b = append(b, '"')
			for _, ch := range v {
				if ch == '"' || ch == '\\' {
					b = append(b, '\\')
				}
				b = append(b, ch)
			}
			b = append(b, '"')
		}
		out[col] = append(b, '}')
	}
	return out
}

// source is what the worker reads in place of a shipped table: the arrays
// $first, $first+1, ... turned back into rows with the side's column names,
// types and collations.
func (side *sideRows) source(first int) string {
	var sel, args, cols strings.Builder
	for i, f := range side.fields {
		if i > 0 {
			sel.WriteString(", ")
			args.WriteString(", ")
			cols.WriteString(", ")
		}
		fmt.Fprintf(&sel, "_u.c%d%s AS %s", i+1, side.collations[i], quoteIdent(string(f.Name)))
		fmt.Fprintf(&args, "$%d::%s[]", first+i, side.types[i])
		fmt.Fprintf(&cols, "c%d", i+1)
	}
	return fmt.Sprintf("(SELECT %s FROM unnest(%s) AS _u(%s))", sel.String(), args.String(), cols.String())
}

// column finds a column of the side by name; -1 when absent or twice.
func (side *sideRows) column(name string) int {
	found := -1
	for i, f := range side.fields {
		if string(f.Name) == name {
			if found >= 0 {
				return -1
			}
			found = i
		}
	}
	return found
}

// dealable reports whether two join columns can be dealt to clusters by
// the text of their values: both integers, both text (deterministic
// collations compare bytes), or both of one type whose output is
// canonical.
func dealable(a, b uint32) bool {
	family := func(oid uint32) int {
		switch oid {
		case oidInt2, oidInt4, oidInt8:
			return 1
		case oidText, oidVarchar:
			return 2
		case oidUUID, oidDate, oidBool:
			return int(oid)
		}
		return 0
	}
	return family(a) != 0 && family(a) == family(b)
}

// share is the cluster (an index into n) a join value goes to; NULL never
// matches, any share will do.
func share(v []byte, n int) int {
	if v == nil {
		return 0
	}
	h := fnv.New64a()
	h.Write(v)
	return int(h.Sum64() % uint64(n))
}

// shippedWorker rewrites a worker for the shipped sides: each side's name
// becomes its source, reading the parameters after the worker's own.
func shippedWorker(worker string, own int, names []string, sides []*sideRows) string {
	first := make([]int, len(sides))
	next := own + 1
	for i, side := range sides {
		first[i] = next
		next += len(side.fields)
	}
	// The longest names first: _sqlrouter_rows_1 is a prefix of
	// _sqlrouter_rows_10.
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return len(names[b]) - len(names[a]) })
	for _, i := range order {
		worker = strings.ReplaceAll(worker, names[i], sides[i].source(first[i]))
	}
	return worker
}

package executor

import (
	"context"
	"encoding/binary"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// maxParamsPerStatement is PostgreSQL's limit on the parameters of one
// statement.
const maxParamsPerStatement = 65535

// sourceRows are the rows of the query an InsertSelect reads.
type sourceRows struct {
	fields  []pgproto3.FieldDescription
	formats []int16
	rows    [][]byte // DataRow bodies
}

// runInsertSelect runs an InsertSelect: the source query runs on the
// primaries inside the client's transaction (turned into one that spans
// clusters), its rows are kept, and each cluster then inserts its own
// rows. RETURNING rows come back in the source's order.
func (s *Session) runInsertSelect(ctx context.Context, p *planner.InsertSelect, bound *boundParams) error {
	if ok, err := s.settle(ctx, false); !ok {
		return err
	}
	params, oids := bound.values()
	if err := s.coordinate(ctx); err != nil {
		return s.stmtError(ctx, err)
	}
	saved := s.batchWrites
	s.batchWrites = true // the source's reads go to the primaries
	defer func() { s.batchWrites = saved }()
	src, ok, err := s.readSource(ctx, p, params, oids)
	if err != nil || !ok {
		return err
	}
	want := p.Columns
	if p.GenerateKey {
		want-- // the key is not among the query's columns
	}
	if n := len(src.fields); want >= 0 && n != want {
		msg := "INSERT has more target columns than expressions"
		if n > want {
			msg = "INSERT has more expressions than target columns"
		}
		return s.stmtError(ctx, pgerror.New(pgerror.SyntaxError, "%s", msg))
	}
	if p.GenerateKey && len(src.rows) > 0 {
		keys, err := s.generateKeys(ctx, p.Table, len(src.rows))
		if err == nil {
			err = appendKeys(src, keys)
		}
		if err != nil {
			return s.stmtError(ctx, err)
		}
	}
	groups, order, err := placeRows(p, src)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	suffix := suffixParams(params, oids, p.SuffixParams)
	perStatement := (maxParamsPerStatement - len(p.SuffixParams)) / max(len(src.fields), 1)
	var parts []multiPart
	for _, cl := range order {
		rows := groups[cl]
		if p.DoUpdate && len(rows) > perStatement {
			return s.stmtError(ctx, pgerror.Unsupported("INSERT ... ON CONFLICT DO UPDATE of more than %d rows of a query into one cluster is not supported", perStatement).
				WithHint("Split the statement, or remove duplicates of the conflict target in the SELECT and use several statements."))
		}
		for len(rows) > 0 {
			n := min(len(rows), perStatement)
			parts = append(parts, insertPart(p, src, suffix, cl, rows[:n]))
			rows = rows[n:]
		}
	}
	if p.DoNothing && p.Returning && p.KeyColumn >= 0 && len(order) > 1 {
		return s.stmtError(ctx, pgerror.Unsupported("INSERT ... ON CONFLICT DO NOTHING RETURNING whose rows belong to several clusters is not supported: the order of the returned rows could not be kept"))
	}
	describe := bound == nil && p.Returning
	if len(parts) == 0 {
		return s.insertNothing(ctx, p, src, suffix, describe)
	}
	parts[0].describe = describe
	var cols []*collector
	if p.KeyColumn < 0 {
		// A reference table: the first copy first, as for every write of
		// one (see runBroadcast).
		first := 0
		for first < len(parts) && parts[first].cluster == parts[0].cluster {
			first++
		}
		for i := first; i < len(parts); i++ {
			parts[i].quiet = true
		}
		cols, ok, err = s.runParts(ctx, parts[:first], bound.resultFormats())
		if err == nil && ok && first < len(parts) {
			var rest []*collector
			rest, ok, err = s.runParts(ctx, parts[first:], bound.resultFormats())
			cols = append(cols, rest...)
		}
	} else {
		cols, ok, err = s.runParts(ctx, parts, bound.resultFormats())
	}
	if err != nil || !ok {
		return err
	}
	return s.relayInserted(p, parts, cols, len(src.rows))
}

// relayInserted sends the answer of an InsertSelect: RETURNING rows in
// the source's order and the number of rows inserted (for a reference
// table, those of its first copy).
func (s *Session) relayInserted(p *planner.InsertSelect, parts []multiPart, cols []*collector, total int) error {
	if p.KeyColumn < 0 {
		var keep []*collector
		for i, col := range cols {
			if parts[i].cluster == parts[0].cluster {
				keep = append(keep, col)
			}
		}
		cols = keep
	}
	if parts[0].describe && cols[0].rowDesc != nil {
		s.client.WriteRaw('T', cols[0].rowDesc)
	}
	var tags []string
	var ordered [][]byte
	for _, col := range cols {
		tags = append(tags, col.tag)
		if p.DoNothing {
			// Rows that met a conflict return nothing: on one cluster
			// (the only case allowed) the parts' rows are in order.
			ordered = append(ordered, col.rows...)
		}
	}
	if p.Returning && !p.DoNothing {
		var ok bool
		if ordered, ok = s.inOrder(parts, cols, total); !ok {
			return nil
		}
	}
	for _, r := range ordered {
		if r != nil {
			s.client.WriteRaw('D', r)
		}
	}
	s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte(sumTags(tags))})
	return nil
}

// insertNothing answers an InsertSelect whose query returned no row: no
// cluster inserts anything, but a simple-protocol RETURNING still
// describes its columns.
func (s *Session) insertNothing(ctx context.Context, p *planner.InsertSelect, src *sourceRows, suffix paramSet, describe bool) error {
	if describe {
		conns, err := s.prepareReaders(ctx, []string{p.Home}, reading{readOnly: true})
		if err != nil {
			return s.stmtError(ctx, err)
		}
		n := len(src.fields)
		if p.GenerateKey {
			n++
		}
		sql := p.Prefix + valuesText(len(p.SuffixParams), n, 1) + p.Suffix
		oids := append(slices.Clone(suffix.oids), make([]uint32, n)...)
		fields, err := describeOn(ctx, conns[0], sql, oids)
		if err != nil {
			return s.stmtError(ctx, err)
		}
		if fields != nil {
			s.client.Send(&pgproto3.RowDescription{Fields: fields})
		}
	}
	s.client.Send(&pgproto3.CommandComplete{CommandTag: []byte("INSERT 0 0")})
	return nil
}

// readSource runs the source query of an InsertSelect and keeps its rows.
// ok is false when it failed and the client has the error.
func (s *Session) readSource(ctx context.Context, p *planner.InsertSelect, params planner.Params, oids []uint32) (*sourceRows, bool, error) {
	values, formats, srcOIDs := subsetParams(params, oids, p.SourceParams)
	sp := planner.Params{Values: values, Formats: formats}
	plan := p.Source
	if r, ok := plan.(*planner.Route); ok {
		cs, err := r.Target.Resolve(sp)
		if err != nil {
			return nil, false, s.stmtError(ctx, err)
		}
		if len(cs) <= 1 || r.Spread == nil {
			cluster, err := r.Cluster(sp)
			if err != nil {
				return nil, false, s.stmtError(ctx, err)
			}
			return s.readRoute(ctx, cluster, p.SourceSQL, sp, srcOIDs)
		}
		plan = r.Spread
	}
	// The row shape says which columns can travel in binary; describing
	// runs in the client's transaction, where only the statement's own
	// errors may happen: the worker of a Scatter, the source of a
	// Combine on a cluster that holds its tables. A Finish, which may
	// read tables no one cluster holds, reads everything in binary.
	var results []int16
	switch pl := plan.(type) {
	case *planner.Scatter:
		_, _, wOIDs := subsetParams(planner.Params{}, srcOIDs, pl.Params)
		fields, ok, err := s.describeSource(ctx, targetHome(pl.Target), pl.Worker, wOIDs)
		if err != nil || !ok {
			return nil, ok, err
		}
		results = transferFormats(fields[:len(fields)-pl.Hidden])
	case *planner.Combine:
		fields, ok, err := s.describeSource(ctx, targetHome(pl.Target), p.SourceSQL, srcOIDs)
		if err != nil || !ok {
			return nil, ok, err
		}
		results = transferFormats(fields)
	default:
		results = []int16{1}
	}
	capt := &capture{Client: s.client}
	s.client = capt
	b := &boundParams{params: sp, oids: srcOIDs, results: results}
	var err error
	switch pl := plan.(type) {
	case *planner.Scatter:
		err = s.runScatter(ctx, pl, b, true, "")
	case *planner.Combine:
		err = s.runCombine(ctx, pl, b, true, "")
	case *planner.Finish:
		err = s.runFinish(ctx, pl, b, true, "")
	default:
		err = s.stmtError(ctx, pgerror.New(pgerror.InternalError, "INSERT ... SELECT from a %T", plan))
	}
	s.client = capt.Client
	if err != nil || capt.failed || s.pipe.failed {
		return nil, false, err
	}
	if capt.tooBig {
		return nil, false, s.stmtError(ctx, tooManyRows())
	}
	var rd pgproto3.RowDescription
	if err := rd.Decode(capt.rowDesc); err != nil {
		return nil, false, s.stmtError(ctx, pgerror.New(pgerror.InternalError, "INSERT ... SELECT: no row description from its query"))
	}
	out := &sourceRows{fields: rd.Fields, rows: capt.rows}
	for _, f := range rd.Fields {
		out.formats = append(out.formats, f.Format)
	}
	return out, true, nil
}

func tooManyRows() error {
	return pgerror.New("54000", "INSERT ... SELECT through the router reads more than %d MB of rows; split it, or insert from co-located tables so that each cluster inserts its own rows", maxCapturedBytes>>20)
}

// describeSource describes a query on a cluster's primary, joined to the
// client's transaction.
func (s *Session) describeSource(ctx context.Context, cluster, sql string, oids []uint32) ([]pgproto3.FieldDescription, bool, error) {
	conns, err := s.prepareReaders(ctx, []string{cluster}, reading{readOnly: true})
	if err != nil {
		return nil, false, s.stmtError(ctx, err)
	}
	fields, err := describeOn(ctx, conns[0], sql, oids)
	if err != nil {
		return nil, false, s.stmtError(ctx, err)
	}
	return fields, true, nil
}

// readRoute runs a query on one cluster's primary, in the client's
// transaction, and keeps its rows.
func (s *Session) readRoute(ctx context.Context, cluster, sql string, p planner.Params, oids []uint32) (*sourceRows, bool, error) {
	fields, ok, err := s.describeSource(ctx, cluster, sql, oids)
	if err != nil || !ok {
		return nil, ok, err
	}
	c := s.conns[cluster]
	out := &sourceRows{fields: fields, formats: transferFormats(fields)}
	for i := range out.fields {
		out.fields[i].Format = out.formats[i]
	}
	s.touched(cluster)
	c.Send(&pgproto3.Bind{ParameterFormatCodes: p.Formats, Parameters: p.Values, ResultFormatCodes: out.formats})
	c.Send(&pgproto3.Execute{})
	c.Send(&pgproto3.Sync{})
	c.needSync = false
	if err := c.Flush(ctx); err != nil {
		return nil, false, s.stmtError(ctx, err)
	}
	var firstErr error
	size := 0
	for {
		typ, body, err := c.Receive(ctx)
		if err != nil {
			s.backendLost(c, err)
			return nil, false, s.stmtError(ctx, pgerror.New(pgerror.ConnectionFailure, "lost connection to cluster %s: %v", cluster, err))
		}
		switch typ {
		case 'D':
			size += len(body)
			if size <= maxCapturedBytes {
				out.rows = append(out.rows, slices.Clone(body))
			}
		case 'E':
			if firstErr == nil {
				firstErr = serverError(body)
			}
		case 'N':
			s.client.WriteRaw(typ, body)
		case 'S':
			s.parameterStatus(body)
		case 'Z':
			switch {
			case firstErr != nil:
				return nil, false, s.stmtError(ctx, firstErr)
			case size > maxCapturedBytes:
				return nil, false, s.stmtError(ctx, tooManyRows())
			}
			return out, true, nil
		}
	}
}

// transferFormats chooses how each column travels: binary for built-in
// types (exact, and the same on every server), text for user-defined
// ones, whose binary form may name type OIDs that differ between servers.
func transferFormats(fields []pgproto3.FieldDescription) []int16 {
	out := make([]int16, len(fields))
	for i, f := range fields {
		if f.DataTypeOID < firstNormalOID {
			out[i] = 1
		}
	}
	return out
}

// placeRows assigns each source row to the clusters that get it: the
// cluster of its key, or every copy of a reference table. order lists
// the clusters in the order they run.
func placeRows(p *planner.InsertSelect, src *sourceRows) (map[string][]int, []string, error) {
	groups := map[string][]int{}
	if p.KeyColumn < 0 {
		all := make([]int, len(src.rows))
		for i := range all {
			all[i] = i
		}
		if len(all) > 0 {
			for _, cl := range p.Clusters {
				groups[cl] = all
			}
			return groups, p.Clusters, nil
		}
		return groups, nil, nil
	}
	t := p.Table
	f := src.fields[p.KeyColumn]
	untyped := untypedText(p, src, p.KeyColumn)
	if !untyped && !keyTypeFits(f.DataTypeOID, t.Distribution.KeyType) {
		return nil, nil, pgerror.Unsupported("INSERT into %s: the query gives distribution key %s as a value of type oid %d, not of the key's type %s", t.Name, t.Key, f.DataTypeOID, t.Distribution.KeyType.PGName()).
			WithHint("Cast the key in the SELECT: ... %s::%s ...", t.Key, t.Distribution.KeyType.PGName())
	}
	var order []string
	for i, row := range src.rows {
		v, err := fieldValue(row, p.KeyColumn)
		if err != nil {
			return nil, nil, err
		}
		if v == nil {
			return nil, nil, pgerror.Unsupported("inserting NULL into distribution key column %s of table %s is not supported", t.Key, t.Name)
		}
		var key shardmap.Key
		switch {
		case untyped:
			key, err = planner.ParseKeyText(t.Distribution.KeyType, string(v))
			if err != nil {
				return nil, nil, err
			}
		case src.formats[p.KeyColumn] == 1:
			key, err = shardmap.KeyFromBinary(t.Distribution.KeyType, v)
		default:
			key, err = shardmap.ParseKey(t.Distribution.KeyType, string(v))
		}
		if err != nil {
			return nil, nil, pgerror.New(pgerror.InvalidTextRepresentation, "distribution key %s: %v", t.Key, err)
		}
		cl, err := t.Distribution.ClusterFor(key)
		if err != nil {
			return nil, nil, pgerror.New(pgerror.CheckViolation, "no cluster of distribution %s accepts key %s = %s", t.Distribution.Name, t.Key, key)
		}
		if _, ok := groups[cl]; !ok {
			order = append(order, cl)
		}
		groups[cl] = append(groups[cl], i)
	}
	slices.Sort(order)
	return groups, order, nil
}

// untypedText reports whether source column i is an untyped literal the
// server made text: it takes the target column's type instead.
func untypedText(p *planner.InsertSelect, src *sourceRows, i int) bool {
	if p.GenerateKey && i == p.KeyColumn {
		return true // a generated key, as text
	}
	return i < len(p.Untyped) && p.Untyped[i] && src.fields[i].DataTypeOID == oidText
}

// keyTypeFits reports whether a value of type oid, assigned to a key
// column, keeps the bytes the router places it by: integers for integer
// keys, text and varchar for text keys (not char(n), whose trailing
// blanks the assignment drops), uuid for uuid keys.
func keyTypeFits(oid uint32, t shardmap.KeyType) bool {
	switch t.Kind() {
	case shardmap.KindInt:
		return oid == oidInt2 || oid == oidInt4 || oid == oidInt8
	case shardmap.KindText:
		return oid == oidText || oid == oidVarchar || oid == oidName || oid == oidUnknown
	case shardmap.KindUUID:
		return oid == oidUUID
	}
	return false
}

// Type OIDs a key value may arrive as.
const (
	oidName    = 19
	oidText    = 25
	oidUnknown = 705
	oidVarchar = 1043
)

// fieldValue returns column i of a DataRow body (nil for NULL).
func fieldValue(row []byte, i int) ([]byte, error) {
	vals, err := rowFields(row)
	if err != nil || i >= len(vals) {
		return nil, pgerror.New(pgerror.ProtocolViolation, "malformed row")
	}
	return vals[i], nil
}

// rowFields splits a DataRow body into its values (nil for NULL); the
// values alias row.
func rowFields(row []byte) ([][]byte, error) {
	if len(row) < 2 {
		return nil, pgerror.New(pgerror.ProtocolViolation, "malformed row")
	}
	n := int(binary.BigEndian.Uint16(row))
	out := make([][]byte, n)
	p := 2
	for i := range n {
		if p+4 > len(row) {
			return nil, pgerror.New(pgerror.ProtocolViolation, "malformed row")
		}
		l := int(int32(binary.BigEndian.Uint32(row[p:])))
		p += 4
		if l < 0 {
			continue
		}
		if p+l > len(row) {
			return nil, pgerror.New(pgerror.ProtocolViolation, "malformed row")
		}
		out[i] = row[p : p+l]
		p += l
	}
	return out, nil
}

// paramSet are parameters spelled out one by one: a value, a format and a
// type for each.
type paramSet struct {
	values  [][]byte
	formats []int16
	oids    []uint32
}

// suffixParams picks the statement's parameters that the ON CONFLICT and
// RETURNING clauses use.
func suffixParams(p planner.Params, oids []uint32, nums []int) paramSet {
	var out paramSet
	for _, n := range nums {
		var v []byte
		if n-1 < len(p.Values) {
			v = p.Values[n-1]
		}
		var oid uint32
		if n-1 < len(oids) {
			oid = oids[n-1]
		}
		out.values = append(out.values, v)
		out.formats = append(out.formats, p.Format(n-1))
		out.oids = append(out.oids, oid)
	}
	return out
}

// insertPart is one INSERT of some source rows on one cluster.
func insertPart(p *planner.InsertSelect, src *sourceRows, suffix paramSet, cluster string, rows []int) multiPart {
	set := paramSet{
		values:  slices.Clone(suffix.values),
		formats: slices.Clone(suffix.formats),
		oids:    slices.Clone(suffix.oids),
	}
	colOIDs := make([]uint32, len(src.fields))
	colFormats := slices.Clone(src.formats)
	for i, f := range src.fields {
		switch {
		case untypedText(p, src, i):
			colFormats[i] = 0 // the text of a literal, typed by the server
		case f.DataTypeOID < firstNormalOID:
			colOIDs[i] = f.DataTypeOID // else left to the server: the target column's type
		}
	}
	for _, r := range rows {
		vals, _ := rowFields(src.rows[r])
		set.values = append(set.values, vals...)
		set.formats = append(set.formats, colFormats...)
		set.oids = append(set.oids, colOIDs...)
	}
	sql := p.Prefix + valuesText(len(p.SuffixParams), len(src.fields), len(rows)) + p.Suffix
	return multiPart{cluster: cluster, sql: sql, oids: set.oids, params: &planner.Params{Values: set.values, Formats: set.formats}, rows: rows}
}

// valuesText writes n rows of m parameters each, numbered from first+1:
// "($3, $4), ($5, $6)".
func valuesText(first, m, n int) string {
	var b strings.Builder
	k := first
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range m {
			if j > 0 {
				b.WriteString(", ")
			}
			k++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(k))
		}
		b.WriteByte(')')
	}
	return b.String()
}

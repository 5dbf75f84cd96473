package planner

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// CopyFormat is the data format of a COPY.
type CopyFormat int

// The COPY formats.
const (
	CopyText CopyFormat = iota
	CopyCSV
	CopyBinary
)

func (f CopyFormat) String() string {
	switch f {
	case CopyCSV:
		return "csv"
	case CopyBinary:
		return "binary"
	}
	return "text"
}

// CopyOptions are what the router needs of a COPY FROM's options to cut
// the data into rows and read each row's key. Options that only the
// servers use (FREEZE, WHERE, ...) are passed on in the statement's text.
type CopyOptions struct {
	Format CopyFormat
	// Delimiter separates columns: tab for text, comma for csv.
	Delimiter byte
	// Null is the string that stands for NULL: \N for text, "" for csv.
	Null string
	// Header says the first line holds column names (text and csv).
	Header bool
	// Quote and Escape are the csv quoting characters.
	Quote, Escape byte
	// ForceNotNull and ForceNull are csv's FORCE_NOT_NULL and FORCE_NULL
	// columns.
	ForceNotNull, ForceNull []string
}

// CopyIn is COPY table FROM STDIN into a table of the shard map. The
// router cuts the client's data into rows; a distributed table's rows go
// to their key's cluster, each cluster getting the statement's own COPY
// (opened when its first row arrives); a reference table's data goes
// whole to every cluster. Every cluster's COPY runs in the client's
// transaction, so the rows commit together (two-phase commit) or not at
// all.
type CopyIn struct {
	// SQL is the statement, which every cluster runs unchanged.
	SQL   string
	Table *shardmap.Table
	// Columns is the column list as written; nil means every column in
	// table order, looked up when the statement runs.
	Columns []string
	Options CopyOptions
	// Clusters are the clusters that can receive rows.
	Clusters []string
	// Home is opened first: its answer to the statement (CopyInResponse,
	// or an error for bad options or columns) is the client's, and a row
	// whose key the router cannot read is sent there so that PostgreSQL
	// reports what is wrong with it.
	Home string
	// Unusable, when set, says why the router cannot cut this COPY's
	// data (an option value it does not understand). Home is still asked
	// first, since PostgreSQL rejects most such statements with its own
	// error; if it accepts one, the router refuses it with this reason.
	Unusable string
}

func (c *CopyIn) explain(b *strings.Builder) {
	if c.Table.Reference {
		fmt.Fprintf(b, "Copy in (%s) to reference table %s: every row to %s, atomic\n", c.Options.Format, tableName(c.Table), strings.Join(c.Clusters, ", "))
		return
	}
	fmt.Fprintf(b, "Copy in (%s) to %s split by %s over %s, atomic\n", c.Options.Format, tableName(c.Table), c.Table.Key, strings.Join(c.Clusters, ", "))
}

// KeyIndex is the position of the distribution key among the COPY's
// columns (columns is Columns, or the table's columns when Columns is
// nil), or -1.
func (c *CopyIn) KeyIndex(columns []string) int {
	for i, name := range columns {
		if name == c.Table.Key {
			return i
		}
	}
	return -1
}

// CopyOut is COPY ... TO STDOUT of rows that lie on several clusters.
// Either every cluster of Clusters runs SQL and their data is
// concatenated (one header line, one binary header and trailer), or, for
// a query whose rows must be combined, the query's tables are gathered at
// the coordinator (Query) and the coordinator runs FinalCopy.
type CopyOut struct {
	// SQL is what each of Clusters runs.
	SQL      string
	Clusters []string
	// Header is set for text and csv output with HEADER: only the first
	// cluster's header line is kept.
	Header bool
	// Binary is set for binary output: only the first cluster's file
	// header and one trailer are kept.
	Binary bool
	// Query, when set, gathers the query's rows at the coordinator, which
	// then runs FinalCopy (COPY (final query) TO STDOUT with the
	// statement's options).
	Query     *Finish
	FinalCopy string
	// Source says what is copied, for EXPLAIN.
	Source string
}

func (c *CopyOut) explain(b *strings.Builder) {
	if c.Query != nil {
		fmt.Fprintf(b, "Copy out %s through the coordinator\n", c.Source)
		for _, line := range strings.Split(Explain(c.Query), "\n") {
			b.WriteString("  " + line + "\n")
		}
		fmt.Fprintf(b, "  Copy: %s\n", c.FinalCopy)
		return
	}
	fmt.Fprintf(b, "Copy out %s: concatenate %s\n  %s\n", c.Source, strings.Join(c.Clusters, ", "), c.SQL)
}

// PlanCopy plans a COPY that involves tables of the shard map. It returns
// nil (and no error) for the COPYs that run on one cluster unchanged:
// tables outside the map, and queries whose rows lie on one cluster.
//
//   - COPY table FROM STDIN: a CopyIn (distributed and reference tables).
//   - COPY table TO STDOUT: a distributed table's clusters concatenated
//     (CopyOut); a reference table's default copy (Route).
//   - COPY (query) TO STDOUT over several clusters: concatenated when the
//     query's rows decompose by cluster without an order or a limit, else
//     gathered and copied out by the coordinator (CopyOut).
//
// Refused with 0A000: COPY of a table of the map to or from a server file
// or program, vertically partitioned tables, ENCODING other than UTF8,
// and COPY (query) of a data-modifying statement spanning clusters.
func PlanCopy(ctx *Context, s *pg_query.CopyStmt, sql string) (Plan, error) {
	if s.Query != nil {
		if s.IsFrom {
			return nil, nil
		}
		return planCopyQuery(ctx, s, sql)
	}
	if s.Relation == nil {
		return nil, nil
	}
	t := ctx.lookupTable(s.Relation.Schemaname, s.Relation.Relname)
	if t == nil {
		return nil, nil
	}
	name := tableName(t)
	switch {
	case s.Filename != "" || s.IsProgram:
		dir := "from"
		if !s.IsFrom {
			dir = "to"
		}
		return nil, pgerror.Unsupported("COPY of table %s of the shard map %s a server file or program is not supported", name, dir).
			WithHint("Use COPY ... %s (psql's \\copy).", map[bool]string{true: "FROM STDIN", false: "TO STDOUT"}[s.IsFrom])
	case t.Vertical != nil:
		return nil, pgerror.Unsupported("COPY of vertically partitioned table %s is not supported yet", name)
	}
	if err := checkCopyEncoding(s); err != nil {
		return nil, err
	}
	if !s.IsFrom {
		return planCopyTableOut(ctx, t, s, sql)
	}
	opts, unusable := copyOptions(s.Options)
	in := &CopyIn{SQL: sql, Table: t, Columns: nameList(s.Attlist), Options: opts, Unusable: unusable}
	if len(s.Attlist) == 0 {
		in.Columns = nil
	}
	if t.Reference {
		in.Clusters = ctx.Map.ClusterNames
	} else {
		in.Clusters = t.Distribution.Clusters()
		if in.Columns != nil && in.KeyIndex(in.Columns) < 0 {
			return nil, pgerror.Unsupported("COPY into distributed table %s must include distribution key column %s", name, t.Key).
				WithHint("Add %s to the column list.", t.Key)
		}
	}
	in.Home = in.Clusters[0]
	for _, c := range in.Clusters {
		if c == ctx.Map.DefaultClusterName() {
			in.Home = c // usually connected already
		}
	}
	return in, nil
}

// planCopyTableOut plans COPY table TO STDOUT.
func planCopyTableOut(ctx *Context, t *shardmap.Table, s *pg_query.CopyStmt, sql string) (Plan, error) {
	if t.Reference {
		// Any copy answers, as for reads of reference tables.
		r := &Route{SQL: sql, ReadOnly: true}
		r.Target.AnyOf = referenceCopies(ctx.Map)
		return r, nil
	}
	opts, _ := copyOptions(s.Options)
	return &CopyOut{
		SQL:      sql,
		Clusters: t.Distribution.Clusters(),
		Header:   opts.Header && opts.Format != CopyBinary,
		Binary:   opts.Format == CopyBinary,
		Source:   "table " + tableName(t),
	}, nil
}

// planCopyQuery plans COPY (query) TO STDOUT.
func planCopyQuery(ctx *Context, s *pg_query.CopyStmt, sql string) (Plan, error) {
	if s.Filename != "" || s.IsProgram {
		return nil, nil // the server refuses or runs it where the query runs
	}
	inner := unwrap(s.Query)
	p, err := planDML(ctx, inner, sql)
	if err != nil {
		return nil, err
	}
	switch p.(type) {
	case *Route:
		return nil, nil
	case *Scatter, *Combine, *Finish, *Join:
	default:
		return nil, pgerror.Unsupported("COPY of a data-modifying statement whose rows lie on several clusters is not supported")
	}
	if err := checkCopyEncoding(s); err != nil {
		return nil, err
	}
	opts, _ := copyOptions(s.Options)
	out := &CopyOut{Header: opts.Header && opts.Format != CopyBinary, Binary: opts.Format == CopyBinary, Source: "query"}
	if sc, ok := p.(*Scatter); ok && len(sc.Sort) == 0 && sc.Limit == nil && sc.Offset == nil && sc.Hidden == 0 && !sc.Target.Deferred() {
		// Every row of the answer comes from one cluster's rows alone, in
		// no particular order: each cluster copies out its share.
		worker, err := pg_query.Parse(sc.Worker)
		if err != nil || len(worker.Stmts) != 1 {
			return nil, pgerror.New(pgerror.InternalError, "rewriting COPY: %v", err)
		}
		if out.SQL, err = copyWithQuery(ctx, s, worker.Stmts[0].Stmt); err != nil {
			return nil, err
		}
		out.Clusters = sc.Target.Static
		return out, nil
	}
	// Anything else (an order, a limit, aggregates over several clusters,
	// joins): PostgreSQL at the coordinator computes the answer and formats
	// it, so it is exactly one server's.
	fp, err := planFinish(ctx, inner, sql)
	if err != nil {
		return nil, err
	}
	f, ok := fp.(*Finish)
	if !ok {
		return nil, pgerror.New(pgerror.InternalError, "COPY: unexpected plan %T for a query", fp)
	}
	final, err := pg_query.Parse(f.Final)
	if err != nil || len(final.Stmts) != 1 {
		return nil, pgerror.New(pgerror.InternalError, "rewriting COPY: %v", err)
	}
	if out.FinalCopy, err = copyWithQuery(ctx, s, final.Stmts[0].Stmt); err != nil {
		return nil, err
	}
	out.Query = f
	return out, nil
}

// copyWithQuery is the COPY statement s with another query, as SQL.
func copyWithQuery(ctx *Context, s *pg_query.CopyStmt, query *pg_query.Node) (string, error) {
	c := proto.Clone(s).(*pg_query.CopyStmt)
	c.Query = query
	node := &pg_query.Node{Node: &pg_query.Node_CopyStmt{CopyStmt: c}}
	sql, err := pg_query.Deparse(&pg_query.ParseResult{Version: ctx.version, Stmts: []*pg_query.RawStmt{{Stmt: node}}})
	if err != nil {
		return "", pgerror.New(pgerror.InternalError, "rewriting COPY: %v", err)
	}
	return sql, nil
}

// checkCopyEncoding refuses an ENCODING the router could not read keys
// in: the bytes of a text key must be the ones the server stores.
func checkCopyEncoding(s *pg_query.CopyStmt) error {
	for _, n := range s.Options {
		d, ok := unwrap(n).(*pg_query.DefElem)
		if !ok || d.Defname != "encoding" {
			continue
		}
		enc := strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(stringValue(d.Arg)))
		if enc != "utf8" && enc != "unicode" {
			return pgerror.Unsupported("COPY with ENCODING '%s' of a table of the shard map is not supported; only UTF8 is", stringValue(d.Arg))
		}
	}
	return nil
}

// copyOptions reads the options that say how the data is cut, with
// PostgreSQL's defaults. unusable names an option whose value the router
// does not understand ("" when all are usable); PostgreSQL itself refuses
// most such values.
func copyOptions(list []*pg_query.Node) (CopyOptions, string) {
	o := CopyOptions{}
	var delim, null, quote, escape *string
	unusable := ""
	for _, n := range list {
		d, ok := unwrap(n).(*pg_query.DefElem)
		if !ok {
			continue
		}
		switch d.Defname {
		case "format":
			switch strings.ToLower(stringValue(d.Arg)) {
			case "text":
				o.Format = CopyText
			case "csv":
				o.Format = CopyCSV
			case "binary":
				o.Format = CopyBinary
			default:
				unusable = fmt.Sprintf("COPY format %q", stringValue(d.Arg))
			}
		case "header":
			h, ok := copyBool(d.Arg, true)
			if !ok {
				unusable = "this HEADER value"
			}
			o.Header = h
		case "delimiter":
			v := stringValue(d.Arg)
			delim = &v
		case "null":
			v := stringValue(d.Arg)
			null = &v
		case "quote":
			v := stringValue(d.Arg)
			quote = &v
		case "escape":
			v := stringValue(d.Arg)
			escape = &v
		case "force_not_null":
			o.ForceNotNull = append(o.ForceNotNull, nameList(listItems(d.Arg))...)
		case "force_null":
			o.ForceNull = append(o.ForceNull, nameList(listItems(d.Arg))...)
		}
	}
	one := func(v *string, dflt byte, what string) byte {
		if v == nil {
			return dflt
		}
		if len(*v) != 1 {
			unusable = "a COPY " + what + " that is not a single one-byte character"
			return dflt
		}
		return (*v)[0]
	}
	switch o.Format {
	case CopyCSV:
		o.Delimiter = one(delim, ',', "delimiter")
		o.Quote = one(quote, '"', "quote")
		o.Escape = one(escape, o.Quote, "escape")
		o.Null = ""
	default:
		o.Delimiter = one(delim, '\t', "delimiter")
		o.Null = `\N`
	}
	if null != nil {
		o.Null = *null
	}
	return o, unusable
}

// copyBool reads a boolean option as PostgreSQL's defGetBoolean does;
// HEADER also takes MATCH (which, for cutting rows, is true).
func copyBool(arg *pg_query.Node, matchOK bool) (bool, bool) {
	switch v := unwrap(arg).(type) {
	case nil:
		return true, true
	case *pg_query.Boolean:
		return v.Boolval, true
	case *pg_query.Integer:
		switch v.Ival {
		case 0:
			return false, true
		case 1:
			return true, true
		}
	case *pg_query.String:
		switch strings.ToLower(v.Sval) {
		case "true", "on":
			return true, true
		case "false", "off":
			return false, true
		case "match":
			return true, matchOK
		}
	}
	return false, false
}

// listItems returns the items of a List node (FORCE_NULL (a, b)).
func listItems(n *pg_query.Node) []*pg_query.Node {
	if l, ok := unwrap(n).(*pg_query.List); ok {
		return l.Items
	}
	return nil
}

package planner

import (
	"fmt"
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// VerticalCopyIn is COPY ... FROM STDIN into a vertically partitioned
// table. The client's data goes whole into a temporary table of the
// coordinator named like the table (so PostgreSQL itself reads every
// format and option, and its errors name the table and the client's
// lines); then each group inserts its columns of those rows, split by
// key over its clusters, all in the client's transaction (two-phase
// commit): every group gets every row, or none does.
type VerticalCopyIn struct {
	SQL   string
	Table *shardmap.Table
	// Stage is the temporary table's name (pg_temp.table), Columns the
	// COPY's columns in its order.
	Stage   string
	Columns []string
	// Copy is the client's COPY aimed at the temporary table.
	Copy   string
	Groups []VerticalCopyGroup
}

// VerticalCopyGroup is one group's share of a VerticalCopyIn.
type VerticalCopyGroup struct {
	// Columns are the key and the group's columns among the COPY's.
	Columns []string
	// Home holds the group's table; Describe reads Columns from it, for
	// their types.
	Home     string
	Describe string
	// Read reads the group's columns of the staged rows at the
	// coordinator.
	Read string
	// Insert inserts rows of Read (the key first) into the group's table.
	Insert *InsertSelect
}

func (c *VerticalCopyIn) explain(b *strings.Builder) {
	fmt.Fprintf(b, "Copy in to vertically partitioned table %s through the coordinator (atomic)\n  %s\n", tableName(c.Table), c.Copy)
	for _, g := range c.Groups {
		fmt.Fprintf(b, "  %s: %s\n    each cluster: %s(...)%s\n", tableName(g.Insert.Table), g.Read, g.Insert.Prefix, g.Insert.Suffix)
	}
}

// planVerticalCopyIn plans COPY into a vertically partitioned table.
func planVerticalCopyIn(ctx *Context, t *shardmap.Table, s *pg_query.CopyStmt, sql string) (Plan, error) {
	name := verticalName(t)
	cols := t.Columns()
	if len(s.Attlist) > 0 {
		cols = nameList(s.Attlist)
	}
	for i, c := range cols {
		if !slices.Contains(t.Columns(), c) {
			return nil, pgerror.New(pgerror.UndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", c, s.Relation.Relname)
		}
		if slices.Contains(cols[:i], c) {
			return nil, pgerror.New("42701", "column \"%s\" specified more than once", c)
		}
	}
	if !slices.Contains(cols, t.Key) {
		return nil, pgerror.Unsupported("COPY into vertically partitioned table %s must include distribution key column %s", name, t.Key).
			WithHint("Add %s to the column list.", t.Key)
	}
	stage := &pg_query.RangeVar{Schemaname: "pg_temp", Relname: t.Name, Inh: true, Relpersistence: "p"}
	cp := proto.Clone(s).(*pg_query.CopyStmt)
	cp.Relation = proto.Clone(stage).(*pg_query.RangeVar)
	copySQL, err := deparseAny(ctx, cp)
	if err != nil {
		return nil, err
	}
	p := &VerticalCopyIn{SQL: sql, Table: t, Stage: "pg_temp." + quoteIdentifier(t.Name), Columns: cols, Copy: copySQL}
	for i := range t.Vertical {
		g := &t.Vertical[i]
		own := []string{t.Key}
		for _, c := range cols {
			if c != t.Key && slices.Contains(g.Columns, c) {
				own = append(own, c)
			}
		}
		describe, err := deparse(ctx, selectFrom(own, &pg_query.RangeVar{Schemaname: g.Schema, Relname: g.Name, Inh: true, Relpersistence: "p"}))
		if err != nil {
			return nil, err
		}
		read, err := deparse(ctx, selectFrom(own, stage))
		if err != nil {
			return nil, err
		}
		tmpl := &pg_query.InsertStmt{Relation: &pg_query.RangeVar{Schemaname: g.Schema, Relname: g.Name, Inh: true, Relpersistence: "p"}}
		for _, c := range own {
			tmpl.Cols = append(tmpl.Cols, &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Name: c}}})
		}
		prefix, suffix, err := insertTemplate(ctx, tmpl)
		if err != nil {
			return nil, err
		}
		p.Groups = append(p.Groups, VerticalCopyGroup{
			Columns: own, Home: g.Distribution.Clusters()[0], Describe: describe, Read: read,
			Insert: &InsertSelect{SQL: sql, Table: g.Physical, Columns: len(own), KeyColumn: 0, Prefix: prefix, Suffix: suffix},
		})
	}
	return p, nil
}

// selectFrom is SELECT cols FROM rv.
func selectFrom(cols []string, rv *pg_query.RangeVar) *pg_query.SelectStmt {
	sel := newSelect()
	sel.FromClause = []*pg_query.Node{{Node: &pg_query.Node_RangeVar{RangeVar: proto.Clone(rv).(*pg_query.RangeVar)}}}
	for _, c := range cols {
		sel.TargetList = append(sel.TargetList, resTarget("", columnRef(c)))
	}
	return sel
}

// quoteIdentifier quotes a name for SQL text.
func quoteIdentifier(s string) string { return quotedNamesOf([]string{s})[0] }

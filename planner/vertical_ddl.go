package planner

import (
	"fmt"
	"slices"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// planVerticalDDL plans DDL and other utility statements that name a
// vertically partitioned table: CREATE TABLE and ALTER TABLE give each
// group its columns and constraints; CREATE INDEX goes to the group
// holding the indexed columns; DROP, TRUNCATE, GRANT, VACUUM and ANALYZE
// name every group; COMMENT goes to the groups it describes.
func planVerticalDDL(ctx *Context, stmt proto.Message, ctes map[string]bool, sql string) (Plan, error) {
	switch s := stmt.(type) {
	case *pg_query.CreateStmt:
		if t := ctx.verticalTable(s.Relation, nil); t != nil {
			return planVerticalCreate(ctx, t, s, sql)
		}
	case *pg_query.AlterTableStmt:
		if t := ctx.verticalTable(s.Relation, nil); t != nil {
			return planVerticalAlter(ctx, t, s, sql)
		}
	case *pg_query.IndexStmt:
		if t := ctx.verticalTable(s.Relation, nil); t != nil {
			return planVerticalIndex(ctx, t, s)
		}
	case *pg_query.CommentStmt:
		return planVerticalComment(ctx, s, sql)
	case *pg_query.DropStmt:
		return planVerticalDrop(ctx, s, sql)
	case *pg_query.RenameStmt:
		return nil, pgerror.Unsupported("renaming vertically partitioned table %s or its columns is not supported", s.Relation.GetRelname()).
			WithHint("Change the shard map and the group tables together.")
	case *pg_query.TruncateStmt, *pg_query.GrantStmt, *pg_query.VacuumStmt:
		// Every group, in place of the table.
		expandGroups(ctx, s, ctes)
		return planRewrittenUtility(ctx, s)
	}
	return nil, pgerror.Unsupported("%s naming a vertically partitioned table is not supported", stmtKind(stmt))
}

// planRewrittenUtility plans a utility statement rewritten for the groups.
func planRewrittenUtility(ctx *Context, stmt proto.Message) (Plan, error) {
	text, err := deparseAny(ctx, stmt)
	if err != nil {
		return nil, err
	}
	p, err := planUtility(ctx, stmt, text)
	if err != nil {
		return nil, err
	}
	markRewritten(p)
	return p, nil
}

// expandGroups replaces, in a list of tables, each vertically partitioned
// table by its groups.
func expandGroups(ctx *Context, stmt proto.Message, ctes map[string]bool) {
	expand := func(nodes []*pg_query.Node) []*pg_query.Node {
		var out []*pg_query.Node
		for _, n := range nodes {
			rv := relationOf(n)
			t := ctx.verticalTable(rv, ctes)
			if t == nil {
				out = append(out, n)
				continue
			}
			for i := range t.Vertical {
				c := proto.Clone(n).(*pg_query.Node)
				g := &t.Vertical[i]
				*relationOf(c) = pg_query.RangeVar{Schemaname: g.Schema, Relname: g.Name, Inh: rv.Inh, Relpersistence: "p", Location: rv.Location}
				out = append(out, c)
			}
		}
		return out
	}
	switch s := stmt.(type) {
	case *pg_query.TruncateStmt:
		s.Relations = expand(s.Relations)
	case *pg_query.GrantStmt:
		s.Objects = expand(s.Objects)
	case *pg_query.VacuumStmt:
		s.Rels = expand(s.Rels)
	}
}

// relationOf is the table a list item names: a RangeVar, or the relation
// of VACUUM's VacuumRelation.
func relationOf(n *pg_query.Node) *pg_query.RangeVar {
	switch x := unwrap(n).(type) {
	case *pg_query.RangeVar:
		return x
	case *pg_query.VacuumRelation:
		return x.Relation
	}
	return nil
}

// columnGroups is the groups a set of columns belongs to: every group when
// they are only the key, the one group holding the others, or an error
// when they span groups.
func columnGroups(t *shardmap.Table, cols []string, what string) ([]*shardmap.VerticalGroup, error) {
	var owner *shardmap.VerticalGroup
	for _, c := range cols {
		if c == t.Key {
			continue
		}
		g, ok := t.Group(c)
		if !ok {
			return nil, pgerror.Unsupported("column %s of vertically partitioned table %s is in no group of the shard map", c, verticalName(t)).
				WithHint("Add the column to a group in the shard map first.")
		}
		if owner != nil && owner != g {
			return nil, pgerror.Unsupported("%s over columns of several groups of vertically partitioned table %s (%s and %s) is not supported", what, verticalName(t), owner.Table, g.Table)
		}
		owner = g
	}
	if owner != nil {
		return []*shardmap.VerticalGroup{owner}, nil
	}
	var all []*shardmap.VerticalGroup
	for i := range t.Vertical {
		all = append(all, &t.Vertical[i])
	}
	return all, nil
}

// constraintColumns lists the columns a constraint names.
func constraintColumns(c *pg_query.Constraint, column string) []string {
	var cols []string
	if column != "" {
		cols = append(cols, column)
	}
	for _, list := range [][]*pg_query.Node{c.Keys, c.FkAttrs, c.Including} {
		cols = append(cols, nameList(list)...)
	}
	for _, e := range c.Exclusions {
		inspect(unwrap(e), func(m proto.Message) bool {
			if ie, ok := m.(*pg_query.IndexElem); ok && ie.Name != "" {
				cols = append(cols, ie.Name)
			}
			return true
		})
	}
	inspect(unwrap(c.RawExpr), func(m proto.Message) bool {
		if cr, ok := m.(*pg_query.ColumnRef); ok {
			names := nameList(cr.Fields)
			cols = append(cols, names[len(names)-1])
		}
		return true
	})
	return cols
}

// ownConstraint copies a constraint for one of the groups it goes to: a
// named constraint that makes an index gets the group's name in its own,
// since index names are unique per schema.
func ownConstraint(c *pg_query.Constraint, g *shardmap.VerticalGroup, groups int) *pg_query.Constraint {
	out := proto.Clone(c).(*pg_query.Constraint)
	switch c.Contype {
	case pg_query.ConstrType_CONSTR_PRIMARY, pg_query.ConstrType_CONSTR_UNIQUE, pg_query.ConstrType_CONSTR_EXCLUSION:
		if out.Conname != "" && groups > 1 {
			out.Conname = fmt.Sprintf("%s_%s", out.Conname, g.Name)
		}
	}
	return out
}

// planVerticalCreate creates each group's table with its columns and the
// constraints on them.
func planVerticalCreate(ctx *Context, t *shardmap.Table, s *pg_query.CreateStmt, sql string) (Plan, error) {
	name := verticalName(t)
	if len(s.InhRelations) > 0 || s.Partspec != nil || s.Partbound != nil || s.OfTypename != nil {
		return nil, pgerror.Unsupported("CREATE TABLE %s with INHERITS, PARTITION or OF: vertically partitioned tables are plain tables", name)
	}
	byGroup := map[*shardmap.VerticalGroup][]*pg_query.Node{}
	defined := map[string]bool{}
	for _, e := range s.TableElts {
		switch x := unwrap(e).(type) {
		case *pg_query.ColumnDef:
			defined[x.Colname] = true
			groups, err := columnGroups(t, []string{x.Colname}, "column")
			if err != nil {
				return nil, err
			}
			for _, g := range groups {
				def := proto.Clone(x).(*pg_query.ColumnDef)
				def.Constraints = nil
				for _, cn := range x.Constraints {
					c, ok := unwrap(cn).(*pg_query.Constraint)
					if !ok {
						continue
					}
					def.Constraints = append(def.Constraints, &pg_query.Node{Node: &pg_query.Node_Constraint{Constraint: ownConstraint(c, g, len(groups))}})
				}
				byGroup[g] = append(byGroup[g], &pg_query.Node{Node: &pg_query.Node_ColumnDef{ColumnDef: def}})
			}
		case *pg_query.Constraint:
			groups, err := columnGroups(t, constraintColumns(x, ""), "a constraint")
			if err != nil {
				return nil, err
			}
			for _, g := range groups {
				byGroup[g] = append(byGroup[g], &pg_query.Node{Node: &pg_query.Node_Constraint{Constraint: ownConstraint(x, g, len(groups))}})
			}
		default:
			return nil, pgerror.Unsupported("CREATE TABLE %s with LIKE: vertically partitioned tables must list their columns", name)
		}
	}
	for _, c := range t.Columns() {
		if !defined[c] {
			return nil, pgerror.Unsupported("CREATE TABLE %s does not define column %s, which the shard map puts in a group", name, c).
				WithHint("Define every column the shard map lists for the table.")
		}
	}
	seq := &Sequence{SQL: sql, Returning: -1}
	for i := range t.Vertical {
		g := &t.Vertical[i]
		c := proto.Clone(s).(*pg_query.CreateStmt)
		c.Relation = &pg_query.RangeVar{Schemaname: g.Schema, Relname: g.Name, Inh: true, Relpersistence: s.Relation.Relpersistence, Location: s.Relation.Location}
		c.TableElts = byGroup[g]
		step, err := ddlStep(ctx, "create "+g.Table, c)
		if err != nil {
			return nil, err
		}
		seq.Steps = append(seq.Steps, step)
	}
	return seq, nil
}

// ddlStep plans one group's DDL.
func ddlStep(ctx *Context, what string, stmt proto.Message) (SequenceStep, error) {
	return planStep(ctx, what, stmt, func(c *Context, sql string) (Plan, error) { return planUtility(c, stmt, sql) })
}

// planVerticalAlter sends each subcommand of ALTER TABLE to the groups it
// concerns.
func planVerticalAlter(ctx *Context, t *shardmap.Table, s *pg_query.AlterTableStmt, sql string) (Plan, error) {
	byGroup := map[*shardmap.VerticalGroup][]*pg_query.Node{}
	for _, n := range s.Cmds {
		cmd, ok := unwrap(n).(*pg_query.AlterTableCmd)
		if !ok {
			continue
		}
		var cols []string
		switch cmd.Subtype {
		case pg_query.AlterTableType_AT_AddColumn:
			if def, ok := unwrap(cmd.Def).(*pg_query.ColumnDef); ok {
				if _, inGroup := t.Group(def.Colname); !inGroup && def.Colname != t.Key {
					return nil, pgerror.Unsupported("column %s of vertically partitioned table %s is in no group of the shard map", def.Colname, verticalName(t)).
						WithHint("Add the column to a group in the shard map first, then ALTER TABLE.")
				}
				cols = append(cols, def.Colname)
			}
		case pg_query.AlterTableType_AT_AddConstraint:
			if c, ok := unwrap(cmd.Def).(*pg_query.Constraint); ok {
				cols = constraintColumns(c, "")
			}
		case pg_query.AlterTableType_AT_DropColumn:
			if cmd.Name == t.Key {
				return nil, pgerror.Unsupported("dropping distribution key column %s of table %s is not supported", t.Key, verticalName(t))
			}
		case pg_query.AlterTableType_AT_DropConstraint:
			cmd.MissingOk = true // it lives in some groups only
		}
		if cmd.Name != "" && cmd.Subtype != pg_query.AlterTableType_AT_DropConstraint {
			cols = append(cols, cmd.Name)
		}
		groups, err := columnGroups(t, cols, "ALTER TABLE")
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			byGroup[g] = append(byGroup[g], proto.Clone(n).(*pg_query.Node))
		}
	}
	seq := &Sequence{SQL: sql, Returning: -1}
	for i := range t.Vertical {
		g := &t.Vertical[i]
		if len(byGroup[g]) == 0 {
			continue
		}
		a := proto.Clone(s).(*pg_query.AlterTableStmt)
		a.Relation = groupRangeVar(g, s.Relation)
		a.Relation.Alias = nil
		a.Cmds = byGroup[g]
		step, err := ddlStep(ctx, "alter "+g.Table, a)
		if err != nil {
			return nil, err
		}
		seq.Steps = append(seq.Steps, step)
	}
	return seq, nil
}

// planVerticalIndex creates an index on the group holding its columns.
func planVerticalIndex(ctx *Context, t *shardmap.Table, s *pg_query.IndexStmt) (Plan, error) {
	var cols []string
	for _, p := range s.IndexParams {
		if ie, ok := unwrap(p).(*pg_query.IndexElem); ok && ie.Name != "" {
			cols = append(cols, ie.Name)
		}
	}
	for _, n := range append(append([]*pg_query.Node{}, s.IndexParams...), append(s.IndexIncludingParams, s.WhereClause)...) {
		inspect(unwrap(n), func(m proto.Message) bool {
			if cr, ok := m.(*pg_query.ColumnRef); ok {
				names := nameList(cr.Fields)
				cols = append(cols, names[len(names)-1])
			}
			if ie, ok := m.(*pg_query.IndexElem); ok && ie.Name != "" {
				cols = append(cols, ie.Name)
			}
			return true
		})
	}
	groups, err := columnGroups(t, cols, "an index")
	if err != nil {
		return nil, err
	}
	s.Relation = groupRangeVar(groups[0], s.Relation)
	s.Relation.Alias = nil
	return planRewrittenUtility(ctx, s)
}

// planVerticalComment comments on every group (COMMENT ON TABLE) or on the
// group holding the column.
func planVerticalComment(ctx *Context, s *pg_query.CommentStmt, sql string) (Plan, error) {
	l, _ := unwrap(s.Object).(*pg_query.List)
	names := nameList(l.GetItems())
	n := objectNames(s)[0]
	t := ctx.lookupTable(n.schema, n.name)
	groups := make([]*shardmap.VerticalGroup, 0, len(t.Vertical))
	for i := range t.Vertical {
		groups = append(groups, &t.Vertical[i])
	}
	if s.Objtype == pg_query.ObjectType_OBJECT_COLUMN {
		var err error
		if groups, err = columnGroups(t, names[len(names)-1:], "COMMENT"); err != nil {
			return nil, err
		}
	}
	seq := &Sequence{SQL: sql, Returning: -1}
	for _, g := range groups {
		c := proto.Clone(s).(*pg_query.CommentStmt)
		items := []*pg_query.Node{str(g.Schema), str(g.Name)}
		if s.Objtype == pg_query.ObjectType_OBJECT_COLUMN {
			items = append(items, str(names[len(names)-1]))
		}
		c.Object = &pg_query.Node{Node: &pg_query.Node_List{List: &pg_query.List{Items: items}}}
		step, err := ddlStep(ctx, "comment on "+g.Table, c)
		if err != nil {
			return nil, err
		}
		seq.Steps = append(seq.Steps, step)
	}
	return seq, nil
}

// planVerticalDrop drops every group of the vertically partitioned tables
// named; other tables must be dropped by statements of their own.
func planVerticalDrop(ctx *Context, s *pg_query.DropStmt, sql string) (Plan, error) {
	seq := &Sequence{SQL: sql, Returning: -1}
	for _, n := range objectNames(s) {
		t := ctx.lookupTable(n.schema, n.name)
		if t == nil || t.Vertical == nil {
			return nil, pgerror.Unsupported("DROP TABLE naming vertically partitioned and other tables is not supported").
				WithHint("Run one statement per table.")
		}
		for i := range t.Vertical {
			g := &t.Vertical[i]
			d := proto.Clone(s).(*pg_query.DropStmt)
			d.Objects = []*pg_query.Node{{Node: &pg_query.Node_List{List: &pg_query.List{Items: []*pg_query.Node{str(g.Schema), str(g.Name)}}}}}
			step, err := ddlStep(ctx, "drop "+g.Table, d)
			if err != nil {
				return nil, err
			}
			seq.Steps = append(seq.Steps, step)
		}
	}
	if slices.ContainsFunc(seq.Steps, func(st SequenceStep) bool {
		b, ok := st.Plan.(*Broadcast)
		return ok && !b.Transactional
	}) {
		return nil, pgerror.Unsupported("DROP ... CONCURRENTLY of vertically partitioned tables is not supported")
	}
	return seq, nil
}

package planner

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// planUtility plans DDL and the other utility statements.
//
// A statement about tables of the shard map goes to every cluster holding
// them, atomically. Statements that create or drop database-wide objects
// tables may depend on (schemas, types, functions, extensions, domains) go
// to every cluster, so that each has them. Everything else about tables
// outside the map goes to the default cluster. A statement kind not known
// to be safe on tables of the map is refused.
func planUtility(ctx *Context, stmt proto.Message, sql string) (Plan, error) {
	if err := checkUniqueKeys(ctx, stmt); err != nil {
		return nil, err
	}
	if l := planLocate(stmt, sql); l != nil {
		return l, nil
	}
	a := newAnalysis(ctx)
	var names [][]string // tables named by plain name lists (DROP, COMMENT)
	kind := stmtKind(stmt)
	allowed, transactional := true, true
	global := false
	command := "" // a statement that cannot run in a transaction block
	switch s := stmt.(type) {
	case *pg_query.CreateStmt:
		a.visit(s, nil)
		if t := ctx.lookupTable(s.Relation.Schemaname, s.Relation.Relname); t != nil && s.Relation.Relpersistence == "t" {
			return nil, pgerror.Unsupported("CREATE TEMP TABLE %s would hide table %s of the shard map", s.Relation.Relname, tableName(t))
		}
	case *pg_query.AlterTableStmt:
		a.visit(s, nil)
	case *pg_query.IndexStmt:
		a.visit(s, nil)
		if s.Concurrent {
			// One cluster after another, each outside a transaction: not
			// atomic (a failure leaves the index on the clusters before).
			transactional = false
			command = "CREATE INDEX CONCURRENTLY"
		}
	case *pg_query.TruncateStmt:
		a.visit(s, nil)
	case *pg_query.VacuumStmt:
		a.visit(s, nil)
		transactional = false
		if len(s.Rels) == 0 {
			return &Broadcast{SQL: sql, Clusters: ctx.Map.ClusterNames, Reason: kind + " of every table"}, nil
		}
	case *pg_query.DropStmt:
		switch s.RemoveType {
		case pg_query.ObjectType_OBJECT_TABLE:
			for _, o := range s.Objects {
				if l, ok := unwrap(o).(*pg_query.List); ok {
					names = append(names, nameList(l.Items))
				}
			}
		case pg_query.ObjectType_OBJECT_SCHEMA, pg_query.ObjectType_OBJECT_TYPE, pg_query.ObjectType_OBJECT_DOMAIN,
			pg_query.ObjectType_OBJECT_FUNCTION, pg_query.ObjectType_OBJECT_PROCEDURE, pg_query.ObjectType_OBJECT_ROUTINE,
			pg_query.ObjectType_OBJECT_EXTENSION, pg_query.ObjectType_OBJECT_AGGREGATE, pg_query.ObjectType_OBJECT_OPERATOR,
			pg_query.ObjectType_OBJECT_COLLATION:
			global = true
		}
		if s.Concurrent {
			transactional = false
		}
	case *pg_query.CommentStmt:
		if s.Objtype == pg_query.ObjectType_OBJECT_TABLE || s.Objtype == pg_query.ObjectType_OBJECT_COLUMN {
			if l, ok := unwrap(s.Object).(*pg_query.List); ok {
				n := nameList(l.Items)
				if s.Objtype == pg_query.ObjectType_OBJECT_COLUMN && len(n) > 1 {
					n = n[:len(n)-1]
				}
				names = append(names, n)
			}
		}
	case *pg_query.GrantStmt:
		a.visit(s, nil)
		if s.Targtype != pg_query.GrantTargetType_ACL_TARGET_OBJECT || s.Objtype != pg_query.ObjectType_OBJECT_TABLE {
			global = true // schemas, functions, types, ALL TABLES IN SCHEMA: on every cluster
		}
	case *pg_query.CreateSeqStmt:
		a.visit(s, nil)
		global = s.Sequence.Relpersistence != "t" // a temporary one lives in the session's default backend
	case *pg_query.AlterDefaultPrivilegesStmt:
		a.visit(s, nil)
		global = true
	case *pg_query.RenameStmt:
		a.visit(s, nil)
		if s.Relation != nil {
			if t := ctx.lookupTable(s.Relation.Schemaname, s.Relation.Relname); t != nil {
				switch {
				case s.RenameType == pg_query.ObjectType_OBJECT_TABLE:
					return nil, pgerror.Unsupported("renaming table %s of the shard map is not supported", tableName(t)).
						WithHint("Create the new table, move the rows and change the shard map.")
				case s.RenameType == pg_query.ObjectType_OBJECT_COLUMN && s.Subname == t.Key:
					return nil, pgerror.Unsupported("renaming distribution key column %s of table %s is not supported", t.Key, tableName(t))
				}
			}
		}
	case *pg_query.CreateSchemaStmt, *pg_query.CreateExtensionStmt, *pg_query.DefineStmt, *pg_query.CreateEnumStmt,
		*pg_query.CompositeTypeStmt, *pg_query.CreateRangeStmt, *pg_query.CreateDomainStmt, *pg_query.CreateFunctionStmt,
		*pg_query.AlterEnumStmt, *pg_query.AlterFunctionStmt, *pg_query.AlterDomainStmt:
		a.visit(s, nil)
		global = true
	default:
		a.visit(stmt, nil)
		allowed = false
	}
	if a.err != nil {
		return nil, a.err
	}
	tables := make([]*shardmap.Table, 0, len(a.rels)+len(names))
	for _, r := range a.rels {
		tables = append(tables, r.table)
	}
	unmapped := a.unmapped
	for _, n := range names {
		schema, rel := "", n[len(n)-1]
		if len(n) > 1 {
			schema = n[len(n)-2]
		}
		if t := ctx.lookupTable(schema, rel); t != nil {
			tables = append(tables, t)
		} else {
			unmapped = append(unmapped, strings.Join(n, "."))
		}
	}
	if len(tables) == 0 {
		if global {
			b := &Broadcast{SQL: sql, Clusters: sortedClusters(ctx.Map), Transactional: transactional, Reason: kind + " creates or drops objects every cluster needs", Coordinator: true}
			if cs, ok := stmt.(*pg_query.CreateSeqStmt); ok {
				b.Sequences = &SequenceScope{Sequence: rangeVarName(cs.Sequence)}
			}
			return b, nil
		}
		return defaultRoute(ctx, sql, true), nil
	}
	t0 := tables[0]
	if !allowed {
		return nil, pgerror.Unsupported("%s on table %s of the shard map is not supported", kind, tableName(t0))
	}
	if len(unmapped) > 0 {
		return nil, pgerror.Unsupported("%s naming both table %s of the shard map and table %s outside it is not supported", kind, tableName(t0), unmapped[0]).
			WithHint("Run one statement per table.")
	}
	clusters := tableClusters(ctx.Map, t0)
	for _, t := range tables {
		if t.Vertical != nil {
			return nil, pgerror.Unsupported("%s on vertically partitioned table %s is not supported yet", kind, tableName(t))
		}
		if !slices.Equal(tableClusters(ctx.Map, t), clusters) {
			return nil, pgerror.Unsupported("%s naming tables placed on different clusters (%s and %s) is not supported", kind, tableName(t0), tableName(t)).
				WithHint("Run one statement per table.")
		}
	}
	b := &Broadcast{SQL: sql, Clusters: clusters, Transactional: transactional, Command: command, Reason: fmt.Sprintf("%s of %s on every cluster that holds it", kind, tableName(t0))}
	if t0.Distribution != nil && createsSequences(stmt) {
		schema := t0.Schema
		if schema == "" {
			schema = "public"
		}
		b.Sequences = &SequenceScope{Table: strings.Join(quotedNamesOf([]string{schema, t0.Name}), ".")}
	}
	return b, nil
}

// createsSequences reports CREATE TABLE and ALTER TABLE that make serial
// or identity columns.
func createsSequences(stmt proto.Message) bool {
	column := func(n *pg_query.Node) bool {
		c, ok := unwrap(n).(*pg_query.ColumnDef)
		if !ok {
			return false
		}
		if c.TypeName != nil {
			names := nameList(c.TypeName.Names)
			switch names[len(names)-1] {
			case "serial", "serial4", "bigserial", "serial8", "smallserial", "serial2":
				return true
			}
		}
		for _, k := range c.Constraints {
			if con, ok := unwrap(k).(*pg_query.Constraint); ok && con.Contype == pg_query.ConstrType_CONSTR_IDENTITY {
				return true
			}
		}
		return false
	}
	switch s := stmt.(type) {
	case *pg_query.CreateStmt:
		for _, e := range s.TableElts {
			if column(e) {
				return true
			}
		}
	case *pg_query.AlterTableStmt:
		for _, n := range s.Cmds {
			cmd, ok := unwrap(n).(*pg_query.AlterTableCmd)
			if ok && (cmd.Subtype == pg_query.AlterTableType_AT_AddIdentity || column(cmd.Def)) {
				return true
			}
		}
	}
	return false
}

// rangeVarName quotes a relation's name as written.
func rangeVarName(rv *pg_query.RangeVar) string {
	if rv.Schemaname != "" {
		return strings.Join(quotedNamesOf([]string{rv.Schemaname, rv.Relname}), ".")
	}
	return strings.Join(quotedNamesOf([]string{rv.Relname}), ".")
}

// sortedClusters lists every cluster, sorted.
func sortedClusters(m *shardmap.Map) []string {
	cs := slices.Clone(m.ClusterNames)
	slices.Sort(cs)
	return cs
}

// tableClusters lists the clusters that hold a table, sorted.
func tableClusters(m *shardmap.Map, t *shardmap.Table) []string {
	var cs []string
	if t.Reference || t.Distribution == nil {
		cs = slices.Clone(m.ClusterNames)
	} else {
		cs = slices.Clone(t.Distribution.Clusters())
	}
	slices.Sort(cs)
	return cs
}

// stmtKind names a statement for messages: "CreateStmt" becomes "CREATE
// TABLE"-like text where known, else the node name.
func stmtKind(stmt proto.Message) string {
	switch s := stmt.(type) {
	case *pg_query.CreateStmt:
		return "CREATE TABLE"
	case *pg_query.AlterTableStmt:
		return "ALTER TABLE"
	case *pg_query.IndexStmt:
		if s.Concurrent {
			return "CREATE INDEX CONCURRENTLY"
		}
		return "CREATE INDEX"
	case *pg_query.CreateSeqStmt:
		return "CREATE SEQUENCE"
	case *pg_query.TruncateStmt:
		return "TRUNCATE"
	case *pg_query.VacuumStmt:
		if s.IsVacuumcmd {
			return "VACUUM"
		}
		return "ANALYZE"
	case *pg_query.DropStmt:
		return "DROP"
	case *pg_query.CommentStmt:
		return "COMMENT"
	case *pg_query.GrantStmt:
		if s.IsGrant {
			return "GRANT"
		}
		return "REVOKE"
	case *pg_query.RenameStmt:
		return "ALTER ... RENAME"
	case *pg_query.LockStmt:
		return "LOCK"
	case *pg_query.CreateTableAsStmt:
		return "CREATE TABLE AS"
	case *pg_query.ViewStmt:
		return "CREATE VIEW"
	case *pg_query.MergeStmt:
		return "MERGE"
	}
	// CreateSchemaStmt -> CREATE SCHEMA
	name := strings.TrimSuffix(reflect.TypeOf(stmt).Elem().Name(), "Stmt")
	var b strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// checkUniqueKeys refuses, on a distributed table, a primary key, unique
// constraint, unique index or exclusion constraint that leaves out the
// distribution key: each cluster would enforce it on its own rows only,
// so two clusters could each hold a row with the same value (Citus
// refuses them the same way). With the key among its columns, rows that
// could collide live on one cluster, which enforces it for all.
func checkUniqueKeys(ctx *Context, stmt any) error {
	switch s := stmt.(type) {
	case *pg_query.CreateStmt:
		t := distributedTable(ctx, s.Relation)
		if t == nil {
			return nil
		}
		for _, n := range s.TableElts {
			if err := elementConstraints(t, n); err != nil {
				return err
			}
		}
	case *pg_query.AlterTableStmt:
		t := distributedTable(ctx, s.Relation)
		if t == nil || s.Objtype != pg_query.ObjectType_OBJECT_TABLE {
			return nil
		}
		for _, n := range s.Cmds {
			cmd, ok := unwrap(n).(*pg_query.AlterTableCmd)
			if !ok {
				continue
			}
			if err := elementConstraints(t, cmd.Def); err != nil {
				return err
			}
		}
	case *pg_query.IndexStmt:
		t := distributedTable(ctx, s.Relation)
		if t == nil || !s.Unique {
			return nil
		}
		for _, n := range s.IndexParams {
			if e, ok := unwrap(n).(*pg_query.IndexElem); ok && e.Name == t.Key {
				return nil
			}
		}
		return uniqueKeyError(t, "a unique index")
	}
	return nil
}

func distributedTable(ctx *Context, rv *pg_query.RangeVar) *shardmap.Table {
	if rv == nil {
		return nil
	}
	t := ctx.lookupTable(rv.Schemaname, rv.Relname)
	if t == nil || t.Distribution == nil {
		return nil
	}
	return t
}

// elementConstraints checks a column definition or a table constraint.
func elementConstraints(t *shardmap.Table, n *pg_query.Node) error {
	switch e := unwrap(n).(type) {
	case *pg_query.ColumnDef:
		return columnConstraints(t, e)
	case *pg_query.Constraint:
		return tableConstraint(t, e)
	}
	return nil
}

// columnConstraints checks PRIMARY KEY and UNIQUE written on a column:
// they hold for that column alone.
func columnConstraints(t *shardmap.Table, c *pg_query.ColumnDef) error {
	for _, n := range c.Constraints {
		con, ok := unwrap(n).(*pg_query.Constraint)
		if !ok {
			continue
		}
		switch con.Contype {
		case pg_query.ConstrType_CONSTR_PRIMARY, pg_query.ConstrType_CONSTR_UNIQUE:
			if c.Colname != t.Key {
				return uniqueKeyError(t, constraintKind(con))
			}
		}
	}
	return nil
}

// tableConstraint checks a table constraint's columns.
func tableConstraint(t *shardmap.Table, con *pg_query.Constraint) error {
	switch con.Contype {
	case pg_query.ConstrType_CONSTR_PRIMARY, pg_query.ConstrType_CONSTR_UNIQUE:
		if con.Indexname != "" {
			return pgerror.Unsupported("%s USING INDEX on distributed table %s is not supported", constraintKind(con), tableName(t)).
				WithHint("Add the constraint with its columns, including %s.", t.Key)
		}
		for _, k := range con.Keys {
			if stringValue(k) == t.Key {
				return nil
			}
		}
		return uniqueKeyError(t, constraintKind(con))
	case pg_query.ConstrType_CONSTR_EXCLUSION:
		// Each element is a list of the index element and its operator.
		for _, n := range con.Exclusions {
			pair, ok := unwrap(n).(*pg_query.List)
			if !ok || len(pair.Items) != 2 {
				continue
			}
			elem, _ := unwrap(pair.Items[0]).(*pg_query.IndexElem)
			op, _ := unwrap(pair.Items[1]).(*pg_query.List)
			if elem != nil && elem.Name == t.Key && op != nil && isEqualsOperator(op.Items) {
				return nil
			}
		}
		return uniqueKeyError(t, "an exclusion constraint")
	}
	return nil
}

func constraintKind(con *pg_query.Constraint) string {
	if con.Contype == pg_query.ConstrType_CONSTR_PRIMARY {
		return "a primary key"
	}
	return "a unique constraint"
}

func uniqueKeyError(t *shardmap.Table, what string) error {
	return pgerror.Unsupported("%s on distributed table %s that does not include distribution key %s is not supported: each cluster could enforce it only on its own rows", what, tableName(t), t.Key).
		WithHint("Include %s in the constraint's columns (with = for an exclusion constraint), or make %s a reference table.", t.Key, tableName(t))
}

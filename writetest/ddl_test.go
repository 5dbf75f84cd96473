package writetest

import (
	"slices"
	"testing"
)

// catalogOn asks every cluster one question and returns the clusters
// whose answer is true.
func catalogOn(t *testing.T, sql string, args ...any) []string {
	t.Helper()
	var out []string
	for _, cl := range clusters() {
		var yes bool
		if err := primary(t, cl).QueryRow(ctxT(t), sql, args...).Scan(&yes); err != nil {
			t.Fatalf("%s on %s: %v", sql, cl, err)
		}
		if yes {
			out = append(out, cl)
		}
	}
	return out
}

func expectOn(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: on %v, want on %v", what, got, want)
	}
}

const (
	tableExists  = `SELECT to_regclass($1) IS NOT NULL`
	columnExists = `SELECT count(*) = 1 FROM information_schema.columns WHERE table_name = $1 AND column_name = $2`
)

// DDL through the router reaches every cluster that holds the table (all
// of them for a reference table or a database-wide object), atomically:
// a statement that fails on one cluster leaves none changed. CREATE INDEX
// CONCURRENTLY and DROP INDEX CONCURRENTLY run on each cluster in turn,
// outside a transaction. Every step is checked in each cluster's catalog.
func TestDDLReachesEveryClusterThatHoldsTheTable(t *testing.T) {
	all, small := clusters(), []string{"s1", "s2"}
	for _, cl := range all {
		// Roles belong to each server: the operator creates them.
		primary(t, cl).Exec(ctxT(t), `DO $$ BEGIN CREATE ROLE ddl_reader; EXCEPTION WHEN duplicate_object THEN END $$`)
	}
	c := connect(t)
	mustExec(t, c, `CREATE SCHEMA app`)
	expectOn(t, "CREATE SCHEMA", catalogOn(t, `SELECT count(*) = 1 FROM pg_namespace WHERE nspname = 'app'`), all)
	mustExec(t, c, `CREATE TABLE app.ddl_s (id bigint PRIMARY KEY, v text)`)
	expectOn(t, "CREATE TABLE app.ddl_s", catalogOn(t, tableExists, "app.ddl_s"), all)
	mustExec(t, c, `CREATE TABLE ddl_small (id int PRIMARY KEY, v text)`)
	expectOn(t, "CREATE TABLE ddl_small (on s1 and s2 only)", catalogOn(t, tableExists, "ddl_small"), small)
	mustExec(t, c, `CREATE TABLE ddl_t (id bigint PRIMARY KEY, v text)`)
	mustExec(t, c, `CREATE TABLE ddl_ref (code text PRIMARY KEY)`)
	expectOn(t, "CREATE TABLE ddl_ref", catalogOn(t, tableExists, "ddl_ref"), all)

	mustExec(t, c, `ALTER TABLE ddl_small ADD COLUMN note text`)
	expectOn(t, "ALTER TABLE ADD COLUMN", catalogOn(t, columnExists, "ddl_small", "note"), small)

	// A transaction rolled back takes the DDL back on every cluster.
	tx, err := c.Begin(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx.Conn(), `CREATE INDEX ddl_t_v ON ddl_t (v)`)
	mustExec(t, tx.Conn(), `ALTER TABLE ddl_t ADD COLUMN gone int`)
	tx.Rollback(ctxT(t))
	expectOn(t, "rolled back CREATE INDEX", catalogOn(t, tableExists, "ddl_t_v"), nil)
	expectOn(t, "rolled back ADD COLUMN", catalogOn(t, columnExists, "ddl_t", "gone"), nil)

	mustExec(t, c, `CREATE INDEX ddl_t_v ON ddl_t (v)`)
	expectOn(t, "CREATE INDEX", catalogOn(t, tableExists, "ddl_t_v"), all)
	mustExec(t, c, `ALTER INDEX ddl_t_v RENAME TO ddl_t_v2`)
	expectOn(t, "ALTER INDEX RENAME", catalogOn(t, tableExists, "ddl_t_v2"), all)
	mustExec(t, c, `COMMENT ON INDEX ddl_t_v2 IS 'by v'`)
	expectOn(t, "COMMENT ON INDEX", catalogOn(t, `SELECT obj_description('ddl_t_v2'::regclass, 'pg_class') = 'by v'`), all)
	mustExec(t, c, `DROP INDEX ddl_t_v2`)
	expectOn(t, "DROP INDEX", catalogOn(t, tableExists, "ddl_t_v2"), nil)
	if _, err := c.Exec(ctxT(t), `DROP INDEX ddl_nowhere`); sqlstate(err) != "42704" {
		t.Errorf("DROP INDEX of an index no cluster has: %v, want 42704", err)
	}
	mustExec(t, c, `DROP INDEX IF EXISTS ddl_nowhere`)

	// CONCURRENTLY: each cluster that holds the table, in turn.
	mustExec(t, c, `CREATE INDEX CONCURRENTLY ddl_small_v ON ddl_small (v)`)
	expectOn(t, "CREATE INDEX CONCURRENTLY", catalogOn(t, `SELECT count(*) = 1 FROM pg_index WHERE indexrelid = to_regclass('ddl_small_v') AND indisvalid`), small)
	tx, err = c.Begin(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctxT(t), `DROP INDEX CONCURRENTLY ddl_small_v`); sqlstate(err) != "25001" {
		t.Errorf("DROP INDEX CONCURRENTLY in a transaction block: %v, want 25001", err)
	}
	tx.Rollback(ctxT(t))
	mustExec(t, c, `DROP INDEX CONCURRENTLY ddl_small_v`)
	expectOn(t, "DROP INDEX CONCURRENTLY", catalogOn(t, tableExists, "ddl_small_v"), nil)

	mustExec(t, c, `COMMENT ON TABLE ddl_small IS 'small'`)
	expectOn(t, "COMMENT ON TABLE", catalogOn(t, `SELECT coalesce(obj_description(to_regclass('ddl_small'), 'pg_class') = 'small', false)`), small)
	mustExec(t, c, `COMMENT ON COLUMN ddl_t.v IS 'value'`)
	expectOn(t, "COMMENT ON COLUMN", catalogOn(t, `SELECT col_description('ddl_t'::regclass, 2) = 'value'`), all)

	mustExec(t, c, `GRANT SELECT, UPDATE ON ddl_t TO ddl_reader`)
	expectOn(t, "GRANT ON TABLE", catalogOn(t, `SELECT has_table_privilege('ddl_reader', 'ddl_t', 'UPDATE')`), all)
	mustExec(t, c, `REVOKE UPDATE ON ddl_t FROM ddl_reader`)
	expectOn(t, "REVOKE", catalogOn(t, `SELECT has_table_privilege('ddl_reader', 'ddl_t', 'UPDATE')`), nil)
	mustExec(t, c, `GRANT USAGE ON SCHEMA app TO ddl_reader`)
	expectOn(t, "GRANT ON SCHEMA", catalogOn(t, `SELECT has_schema_privilege('ddl_reader', 'app', 'USAGE')`), all)
	mustExec(t, c, `GRANT SELECT ON ALL TABLES IN SCHEMA app TO ddl_reader`)
	expectOn(t, "GRANT ON ALL TABLES IN SCHEMA", catalogOn(t, `SELECT has_table_privilege('ddl_reader', 'app.ddl_s', 'SELECT')`), all)

	mustExec(t, c, `INSERT INTO ddl_t (id, v) SELECT g, 'x' FROM generate_series(1, 30) g`)
	mustExec(t, c, `TRUNCATE ddl_t`)
	expectOn(t, "TRUNCATE", catalogOn(t, `SELECT count(*) > 0 FROM ddl_t`), nil)

	// Atomic: an index name taken on s2 alone fails the CREATE INDEX
	// there, and no cluster keeps the index.
	primary(t, "s2").Exec(ctxT(t), `CREATE TABLE ddl_local (x int); CREATE INDEX ddl_t_clash ON ddl_local (x)`)
	if _, err := c.Exec(ctxT(t), `CREATE INDEX ddl_t_clash ON ddl_t (v)`); sqlstate(err) != "42P07" {
		t.Errorf("CREATE INDEX whose name is taken on one cluster: %v, want 42P07", err)
	}
	expectOn(t, "CREATE INDEX failed on s2", catalogOn(t, `SELECT count(*) = 1 FROM pg_indexes WHERE indexname = 'ddl_t_clash' AND tablename = 'ddl_t'`), nil)

	// A unique constraint without the distribution key is refused.
	if _, err := c.Exec(ctxT(t), `CREATE UNIQUE INDEX ddl_t_u ON ddl_t (v)`); sqlstate(err) != "0A000" {
		t.Errorf("unique index without the key: %v, want 0A000", err)
	}
	mustExec(t, c, `CREATE UNIQUE INDEX ddl_t_u ON ddl_t (v, id)`)
	expectOn(t, "unique index with the key", catalogOn(t, tableExists, "ddl_t_u"), all)

	if _, err := c.Exec(ctxT(t), `DROP TABLE ddl_small, ddl_ref`); sqlstate(err) != "0A000" {
		t.Errorf("DROP TABLE of tables placed on different clusters: %v, want 0A000", err)
	}
	mustExec(t, c, `DROP TABLE ddl_small`)
	mustExec(t, c, `DROP TABLE ddl_ref`)
	expectOn(t, "DROP TABLE", catalogOn(t, `SELECT to_regclass('ddl_small') IS NOT NULL OR to_regclass('ddl_ref') IS NOT NULL`), nil)
}

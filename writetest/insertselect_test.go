package writetest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// assertPlaced checks that every row of a table distributed by an
// integer key is on the cluster its key belongs to, and returns how many
// rows there are in all.
func assertPlaced(t *testing.T, table, key, dist string) int {
	t.Helper()
	total := 0
	for _, cl := range holders(t, table) {
		for _, r := range rowsOn(t, cl, fmt.Sprintf("SELECT %s FROM %s", key, table)) {
			var k shardmap.Key
			if n, err := strconv.ParseInt(r, 10, 64); err == nil {
				k = shardmap.IntKey(n)
			} else {
				k = shardmap.TextKey(r)
			}
			if want := ownerOf(t, dist, k); want != cl {
				t.Errorf("%s: key %s is on %s, it belongs on %s", table, r, cl, want)
			}
			total++
		}
	}
	return total
}

func isSetup(t *testing.T) {
	setup(t,
		`CREATE TABLE is_source (id bigint PRIMARY KEY, v int NOT NULL, note text)`,
		`CREATE TABLE is_target (id bigint PRIMARY KEY, v int NOT NULL, note text DEFAULT 'default')`,
		`CREATE TABLE is_colocated (account_id bigint NOT NULL, id int NOT NULL, v int, PRIMARY KEY (account_id, id))`,
		`CREATE TABLE is_other (tag text PRIMARY KEY, v int NOT NULL)`,
		`CREATE TABLE is_ref (id bigint PRIMARY KEY, v int)`,
		`CREATE TABLE is_plain (id bigint, v int)`,
		`INSERT INTO is_source (id, v, note) SELECT g, g * 10, 'n' || g FROM generate_series(1, 30) g`,
		`INSERT INTO is_other (tag, v) SELECT 't' || g, g FROM generate_series(1, 20) g`,
		`INSERT INTO is_plain (id, v) SELECT g, g FROM generate_series(501, 520) g`,
	)
}

// INSERT ... SELECT between co-located tables that keeps the key runs on
// each cluster at once; anything else reads through the router and
// inserts each row on its key's cluster. Both are atomic, keep the
// statement's ON CONFLICT and RETURNING, and give one PostgreSQL's tag.
func TestInsertSelect(t *testing.T) {
	isSetup(t)
	c := connect(t)
	explain := func(sql string) string {
		return strings.Join(rowsVia(t, c, "EXPLAIN "+sql), "\n")
	}

	pushed := `INSERT INTO is_colocated (account_id, id, v) SELECT id, 1, v FROM is_source WHERE v > 0`
	if plan := explain(pushed); !strings.Contains(plan, "Fan-out write") {
		t.Errorf("co-located INSERT ... SELECT is not pushed down:\n%s", plan)
	}
	if tag := mustExec(t, c, pushed); tag.String() != "INSERT 0 30" {
		t.Errorf("pushed-down INSERT ... SELECT: %s", tag)
	}
	if n := assertPlaced(t, "is_colocated", "account_id", "by_account"); n != 30 {
		t.Errorf("is_colocated has %d rows, want 30", n)
	}

	// From a table of another distribution: through the router.
	pulled := `INSERT INTO is_target (id, v) SELECT 1000 + v, v FROM is_other`
	if plan := explain(pulled); !strings.Contains(plan, "Insert rows of a read into is_target") {
		t.Errorf("INSERT ... SELECT across distributions plan:\n%s", plan)
	}
	if tag := mustExec(t, c, pulled); tag.String() != "INSERT 0 20" {
		t.Errorf("INSERT ... SELECT across distributions: %s", tag)
	}
	// From a table outside the map, with an ORDER BY and LIMIT: RETURNING
	// comes back in the query's order.
	rows := rowsVia(t, c, `INSERT INTO is_target (id, v) SELECT id, v FROM is_plain ORDER BY id DESC LIMIT 10 RETURNING id, note`)
	var want []string
	for id := 520; id > 510; id-- {
		want = append(want, fmt.Sprintf("%d|default", id))
	}
	if !slices.Equal(rows, want) {
		t.Errorf("RETURNING of INSERT ... SELECT ... ORDER BY: %v, want %v", rows, want)
	}
	if n := assertPlaced(t, "is_target", "id", "by_account"); n != 30 {
		t.Errorf("is_target has %d rows, want 30", n)
	}

	// ON CONFLICT: rows 1011..1020 exist (from is_other), 1021..1030 do
	// not.
	tag := mustExec(t, c, `INSERT INTO is_target (id, v) SELECT 1000 + id, 0 FROM is_source WHERE id > 10 ON CONFLICT (id) DO NOTHING`)
	if tag.String() != "INSERT 0 10" {
		t.Errorf("INSERT ... SELECT ... ON CONFLICT DO NOTHING: %s, want INSERT 0 10", tag)
	}
	rows = rowsVia(t, c, `INSERT INTO is_target AS t (id, v) SELECT 1000 + id, -1 FROM is_source WHERE id BETWEEN 15 AND 25 ORDER BY id ON CONFLICT (id) DO UPDATE SET v = t.v + 1000 RETURNING id, v`)
	want = nil
	for id := 1015; id <= 1025; id++ {
		v := 1000 + id - 1000 // rows from is_other had v = id - 1000
		if id > 1020 {
			v = 1000 // inserted with 0 by the DO NOTHING statement
		}
		want = append(want, fmt.Sprintf("%d|%d", id, v))
	}
	if !slices.Equal(rows, want) {
		t.Errorf("INSERT ... SELECT ... ON CONFLICT DO UPDATE RETURNING:\n got %v\nwant %v", rows, want)
	}

	// Prepared, with parameters in the query and in RETURNING.
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec} {
		pc := connect(t, mode)
		base := map[pgx.QueryExecMode]int64{pgx.QueryExecModeCacheStatement: 2000, pgx.QueryExecModeExec: 3000}[mode]
		rows := rowsVia(t, pc, `INSERT INTO is_target (id, v) SELECT id + $1, v FROM is_source WHERE id <= $2 ORDER BY id RETURNING id - $1`, base, 5)
		if !slices.Equal(rows, []string{"1", "2", "3", "4", "5"}) {
			t.Errorf("%v: prepared INSERT ... SELECT RETURNING %v", mode, rows)
		}
	}
	if n := assertPlaced(t, "is_target", "id", "by_account"); n != 50 {
		t.Errorf("is_target has %d rows, want 50", n)
	}

	// A key that is an expression, and untyped literals, as one
	// PostgreSQL takes them.
	if tag := mustExec(t, c, `INSERT INTO is_target (id, v) VALUES (4000 + 1, 1), (2 * 2001, 2), ('4003', '3')`); tag.String() != "INSERT 0 3" {
		t.Errorf("INSERT with computed keys: %s", tag)
	}
	if tag := mustExec(t, c, `INSERT INTO is_target (id, v, note) SELECT '4004', '4', NULL`); tag.String() != "INSERT 0 1" {
		t.Errorf("INSERT ... SELECT of untyped literals: %s", tag)
	}
	if n := assertPlaced(t, "is_target", "id", "by_account"); n != 54 {
		t.Errorf("is_target has %d rows, want 54", n)
	}

	// Atomic: a duplicate on one cluster fails the statement and no
	// cluster keeps its rows.
	_, err := c.Exec(ctxT(t), `INSERT INTO is_target (id, v) SELECT id + 5000, v FROM is_source UNION ALL SELECT 5007, 0`)
	if sqlstate(err) != "23505" {
		t.Errorf("INSERT ... SELECT with a duplicate key: %v, want 23505", err)
	}
	for _, cl := range clusters() {
		if n := countOn(t, cl, "is_target", "id > 5000"); n != 0 {
			t.Errorf("a failed INSERT ... SELECT left %d rows on %s", n, cl)
		}
	}

	// Into a reference table from a distributed one: read once, the same
	// rows on every copy.
	if tag := mustExec(t, c, `INSERT INTO is_ref (id, v) SELECT id, v + (random() * 0)::int FROM is_source WHERE id <= 10`); tag.String() != "INSERT 0 10" {
		t.Errorf("INSERT into a reference table from a distributed one: %s", tag)
	}
	var first []string
	for _, cl := range clusters() {
		got := rowsOn(t, cl, `SELECT id, v FROM is_ref ORDER BY id`)
		if len(got) != 10 || (first != nil && !slices.Equal(got, first)) {
			t.Errorf("reference copy on %s: %v (first copy %v)", cl, got, first)
		}
		first = got
	}
	// Into a table outside the map (the default cluster) from a
	// distributed one.
	if tag := mustExec(t, c, `INSERT INTO is_plain SELECT id, v FROM is_source`); tag.String() != "INSERT 0 30" {
		t.Errorf("INSERT into a table outside the map from a distributed one: %s", tag)
	}
	if n := countOn(t, "s0", "is_plain", ""); n != 50 {
		t.Errorf("is_plain on the default cluster has %d rows, want 50", n)
	}

	// A key of a type that is not the key's is refused.
	_, err = c.Exec(ctxT(t), `INSERT INTO is_target (id, v) SELECT 1.5, 1`)
	if sqlstate(err) != "0A000" {
		t.Errorf("INSERT ... SELECT of a numeric key: %v, want 0A000", err)
	}
}

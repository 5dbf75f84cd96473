package writetest

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/idrange"
)

// Generated ids through the router never repeat across clusters: many
// clients insert at once into tables whose key is bigserial, an identity
// or serial column (the router takes the key from the sequence before it
// places the row), and into a table whose serial column is not the key
// (each cluster's own sequence, ranged to that cluster's slot). Every id
// appears once in the whole deployment, and every row is on its key's
// cluster. Each cluster's sequences hand out only their slot's range, and
// a sequence that reaches the end of its range fails instead of running
// into the next cluster's.
func TestGeneratedIdsAreUniqueAcrossClusters(t *testing.T) {
	setup(t,
		`CREATE TABLE id_big (id bigserial PRIMARY KEY, v text)`,
		`CREATE TABLE id_ident (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)`,
		`CREATE TABLE id_int (id serial PRIMARY KEY, v text)`,
		`CREATE TABLE id_notes (owner bigint NOT NULL, id bigserial, g bigint, v text, PRIMARY KEY (owner, id))`,
		`CREATE SEQUENCE id_global`,
	)
	const clients, rounds = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	conns := make([]*pgx.Conn, clients)
	for i := range conns {
		conns[i] = connect(t, []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement}[i%2])
	}
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := ctxT(t)
			for r := range rounds {
				v := fmt.Sprintf("c%d-r%d", i, r)
				for _, st := range []struct {
					sql  string
					args []any
				}{
					{`INSERT INTO id_big (v) VALUES ($1)`, []any{v}},
					{`INSERT INTO id_big (v) VALUES ($1), ($1), ($1)`, []any{v}},
					{`INSERT INTO id_big (id, v) VALUES (DEFAULT, $1)`, []any{v}},
					{`INSERT INTO id_big (v) SELECT $1 || g FROM generate_series(1, 3) g`, []any{v}},
					{`INSERT INTO id_ident (v) VALUES ($1), ($1)`, []any{v}},
					{`INSERT INTO id_ident DEFAULT VALUES`, nil},
					{`INSERT INTO id_int (v) VALUES ($1)`, []any{v}},
					{`INSERT INTO id_notes (owner, v) VALUES ($1, $3), ($2, $3)`, []any{int64(i*1000 + r), int64(i*1000 + r + 500), v}},
					{`INSERT INTO id_notes (owner, g, v) VALUES ($1, nextval('id_global'), $2)`, []any{int64(i*1000 + r + 700), v}},
				} {
					if _, err := c.Exec(ctx, st.sql, st.args...); err != nil {
						errs <- fmt.Errorf("client %d: %s: %w", i, st.sql, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		table, key, dist string
		rows             int
	}{
		{"id_big", "id", "by_account", clients * rounds * 8},
		{"id_ident", "id", "by_account", clients * rounds * 3},
		{"id_int", "id", "by_small", clients * rounds},
	} {
		if n := assertPlaced(t, tc.table, tc.key, tc.dist); n != tc.rows {
			t.Errorf("%s: %d rows, want %d", tc.table, n, tc.rows)
		}
		assertUnique(t, tc.table, "id")
	}
	if n := assertPlaced(t, "id_notes", "owner", "by_account"); n != clients*rounds*3 {
		t.Errorf("id_notes: %d rows, want %d", n, clients*rounds*3)
	}
	assertUnique(t, "id_notes", "id")
	assertUnique(t, "id_notes", "g")

	// A table made again gets a new sequence: no session of the router
	// hands out values it kept from the old one.
	mustExec(t, conns[1], `DROP TABLE id_big`)
	mustExec(t, conns[1], `CREATE TABLE id_big (id bigserial PRIMARY KEY, v text)`)
	for _, c := range conns[:2] {
		mustExec(t, c, `INSERT INTO id_big (v) SELECT 'again' FROM generate_series(1, 30)`)
	}
	var maxID int64
	if err := conns[0].QueryRow(ctxT(t), `SELECT max(id) FROM id_big`).Scan(&maxID); err != nil {
		t.Fatal(err)
	}
	if lo, _, _ := idrange.Range("bigint", slotOf(t, "s0")); maxID >= lo+2*64 {
		t.Errorf("after the table was made again, ids reach %d: values of the old sequence were handed out", maxID)
	}
	assertUnique(t, "id_big", "id")

	// Each cluster's copies hold their slot's range, and slots differ.
	seen := map[int]string{}
	for _, cl := range clusters() {
		slot := slotOf(t, cl)
		if other, dup := seen[slot]; dup {
			t.Errorf("clusters %s and %s share slot %d", other, cl, slot)
		}
		seen[slot] = cl
		for _, r := range rowsOn(t, cl, `SELECT seqrelid::regclass::text, format_type(seqtypid, NULL), seqmin, seqmax FROM pg_sequence WHERE seqrelid::regclass::text IN ('id_big_id_seq', 'id_ident_id_seq', 'id_int_id_seq', 'id_notes_id_seq', 'id_global') ORDER BY 1`) {
			f := strings.Split(r, "|")
			lo, hi, err := idrange.Range(f[1], slot)
			if err != nil || f[2] != fmt.Sprint(lo) || f[3] != fmt.Sprint(hi) {
				t.Errorf("%s on %s (slot %d): range %s..%s, want %d..%d (%v)", f[0], cl, slot, f[2], f[3], lo, hi, err)
			}
		}
	}

	// A copy made outside the router (pg_dump of s0 onto a new cluster)
	// holds another cluster's range; any ALTER SEQUENCE through the
	// router gives it its own.
	mustExec(t, connect(t), `CREATE SEQUENCE id_copy`)
	s0lo, s0hi, _ := idrange.Range("bigint", slotOf(t, "s0"))
	if _, err := primary(t, "s1").Exec(ctxT(t), fmt.Sprintf(`ALTER SEQUENCE id_copy MINVALUE %d MAXVALUE %d START WITH %d RESTART WITH %d`, s0lo, s0hi, s0lo, s0lo)); err != nil {
		t.Fatal(err)
	}
	mustExec(t, connect(t), `ALTER SEQUENCE id_copy NO CYCLE`)
	for _, cl := range clusters() {
		lo, hi, _ := idrange.Range("bigint", slotOf(t, cl))
		if got := rowsOn(t, cl, `SELECT seqmin, seqmax FROM pg_sequence WHERE seqrelid = 'id_copy'::regclass`); len(got) != 1 || got[0] != fmt.Sprintf("%d|%d", lo, hi) {
			t.Errorf("id_copy on %s after ALTER SEQUENCE through the router: %v, want %d|%d", cl, got, lo, hi)
		}
	}

	// The end of a range is an error, not the next cluster's ids.
	c := connect(t)
	mustExec(t, c, `CREATE SEQUENCE id_tiny AS smallint`)
	var last int64
	if err := c.QueryRow(ctxT(t), `SELECT setval('id_tiny', (SELECT seqmax FROM pg_sequence WHERE seqrelid = 'id_tiny'::regclass))`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctxT(t), `SELECT nextval('id_tiny')`); sqlstate(err) != "2200H" {
		t.Errorf("nextval past the end of the cluster's range: %v, want 2200H", err)
	}
}

// slotOf reads a cluster's sequence slot from etcd.
func slotOf(t *testing.T, cluster string) int {
	t.Helper()
	resp, err := stack.Etcd.Get(ctxT(t), idrange.DefaultPrefix+"cluster/"+cluster)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("slot of %s in etcd: %v %v", cluster, resp, err)
	}
	slot, err := strconv.Atoi(string(resp.Kvs[0].Value))
	if err != nil {
		t.Fatal(err)
	}
	return slot
}

// assertUnique checks that no value of a column appears twice in the
// whole deployment.
func assertUnique(t *testing.T, table, col string) {
	t.Helper()
	where := map[string]string{}
	for _, cl := range holders(t, table) {
		for _, v := range rowsOn(t, cl, fmt.Sprintf("SELECT %s FROM %s WHERE %s IS NOT NULL", col, table, col)) {
			if other, dup := where[v]; dup {
				t.Errorf("%s.%s = %s on %s and on %s", table, col, v, other, cl)
			}
			where[v] = cl
		}
	}
}

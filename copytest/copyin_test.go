package copytest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// itemsText is n rows of items in COPY text format, ids from base, with
// escapes, NULLs, arrays and non-ASCII text.
func itemsText(base int64, n int) []byte {
	var b strings.Builder
	for i := range n {
		id := base + int64(i)
		name := fmt.Sprintf("item\\t%d é\\\\x", i)
		if i%7 == 3 {
			name = `\N`
		}
		fmt.Fprintf(&b, "%d\t%s\t%d\t%d.%02d\t{a,\"b c\",%d}\t2024-01-%02d 10:00:00+00\n", id, name, i%13, i, i%100, i, 1+i%28)
	}
	return []byte(b.String())
}

// assertPlaced checks that every row of table lies on its key's cluster:
// each primary holds exactly the keys the map gives it.
func assertPlaced(t *testing.T, table, key, dist string, where string, want []int64) {
	t.Helper()
	expect := map[string][]int64{}
	for _, id := range want {
		cl := owner(t, dist, shardmap.IntKey(id))
		expect[cl] = append(expect[cl], id)
	}
	for _, cl := range clusters() {
		got := []int64{}
		rows, err := primary(t, cl).Query(ctxT(t), fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY 1", key, table, where))
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids...)
		exp := expect[cl]
		if exp == nil {
			exp = []int64{}
		}
		slices.Sort(exp)
		if !slices.Equal(got, exp) {
			t.Errorf("%s on %s: %d keys %v..., want %d keys %v...", table, cl, len(got), head(got), len(exp), head(exp))
		}
	}
}

func head(s []int64) []int64 { return s[:min(len(s), 5)] }

func ids(base int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = base + int64(i)
	}
	return out
}

// sameRows compares a query's answer through the router and on the
// reference.
func sameRows(t *testing.T, sql string) {
	t.Helper()
	got, want := rowsOf(t, router(t), sql), rowsOf(t, ref(t), sql)
	if !slices.Equal(got, want) {
		t.Errorf("%s:\nrouter    %d rows %q\nreference %d rows %q", sql, len(got), got[:min(len(got), 3)], len(want), want[:min(len(want), 3)])
	}
}

// Text COPY through the router puts every row on its key's cluster, in
// one statement whose tag counts them all, with the same values one
// server would store.
func TestCopyInText(t *testing.T) {
	base := int64(1_000_000)
	data := itemsText(base, 2000)
	for _, c := range []*pgx.Conn{router(t), ref(t)} {
		tag, err := copyIn(t, c.PgConn(), "COPY items FROM STDIN", data)
		if err != nil {
			t.Fatal(err)
		}
		if tag.String() != "COPY 2000" {
			t.Errorf("tag %q, want COPY 2000", tag)
		}
	}
	assertPlaced(t, "items", "id", "by_id", "id >= 1000000 AND id < 1002000", ids(base, 2000))
	sameRows(t, "SELECT * FROM items WHERE id >= 1000000 AND id < 1002000 ORDER BY id")
}

// CSV with a header, quoted values holding delimiters, quotes and line
// breaks, FORCE_NULL, a column list in another order, and a text key.
func TestCopyInCSV(t *testing.T) {
	var b strings.Builder
	b.WriteString("body,code,n\n")
	for i := range 500 {
		body := fmt.Sprintf(`"line one, ""quoted""
line two %d"`, i)
		if i%9 == 0 {
			body = `""` // empty, FORCE_NULL makes it NULL
		}
		fmt.Fprintf(&b, "%s,%s,%d\n", body, fmt.Sprintf("code-%04d é", i), i)
	}
	sql := `COPY notes (body, code, n) FROM STDIN WITH (FORMAT csv, HEADER true, FORCE_NULL (body))`
	for _, c := range []*pgx.Conn{router(t), ref(t)} {
		tag, err := copyIn(t, c.PgConn(), sql, []byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if tag.String() != "COPY 500" {
			t.Errorf("tag %q", tag)
		}
	}
	for _, cl := range clusters() {
		rows, err := primary(t, cl).Query(ctxT(t), "SELECT code FROM notes WHERE code LIKE 'code-%'")
		if err != nil {
			t.Fatal(err)
		}
		codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, code := range codes {
			if o := owner(t, "by_code", shardmap.TextKey(code)); o != cl {
				t.Errorf("note %q is on %s, belongs on %s", code, cl, o)
			}
		}
		if len(codes) == 0 || len(codes) == 500 {
			t.Errorf("%d notes on %s: not split", len(codes), cl)
		}
	}
	sameRows(t, "SELECT code, body, n FROM notes WHERE code LIKE 'code-%' ORDER BY code COLLATE \"C\"")
}

// pgx's CopyFrom sends binary COPY; rows land on their clusters.
func TestCopyInBinary(t *testing.T) {
	base := int64(2_000_000)
	var rows [][]any
	for i := range 3000 {
		var name any = fmt.Sprintf("bin %d", i)
		if i%11 == 0 {
			name = nil
		}
		rows = append(rows, []any{base + int64(i), name, int32(i % 5), fmt.Sprintf("%d.5", i), []string{"x", strconv.Itoa(i)}, time.Date(2024, 2, 1+i%28, 0, 0, 0, 0, time.UTC)})
	}
	cols := []string{"id", "name", "qty", "price", "tags", "seen"}
	for _, c := range []*pgx.Conn{router(t), ref(t)} {
		n, err := c.CopyFrom(ctxT(t), pgx.Identifier{"items"}, cols, pgx.CopyFromRows(rows))
		if err != nil {
			t.Fatal(err)
		}
		if n != 3000 {
			t.Errorf("copied %d rows, want 3000", n)
		}
	}
	assertPlaced(t, "items", "id", "by_id", "id >= 2000000 AND id < 2003000", ids(base, 3000))
	sameRows(t, "SELECT * FROM items WHERE id >= 2000000 AND id < 2003000 ORDER BY id")
}

// A reference table's rows reach every cluster.
func TestCopyInReference(t *testing.T) {
	data := []byte("1\tone\n2\ttwo\n3\t\\N\n")
	tag, err := copyIn(t, router(t).PgConn(), "COPY kinds FROM STDIN", data)
	if err != nil {
		t.Fatal(err)
	}
	if tag.String() != "COPY 3" {
		t.Errorf("tag %q, want COPY 3", tag)
	}
	for _, cl := range clusters() {
		if got := rowsOf(t, primary(t, cl), "SELECT k, label FROM kinds ORDER BY k"); !slices.Equal(got, []string{"1|one", "2|two", "3|∅"}) {
			t.Errorf("kinds on %s: %q", cl, got)
		}
	}
}

// Keys of a range distribution go to their ranges; a key no cluster owns
// fails the whole COPY, which leaves nothing behind.
func TestCopyInRange(t *testing.T) {
	c := router(t)
	tag, err := copyIn(t, c.PgConn(), "COPY slots FROM STDIN (FORMAT csv)", []byte("5,a\n1500,b\n999,c\n1000,d\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tag.String() != "COPY 4" {
		t.Errorf("tag %q", tag)
	}
	if got := rowsOf(t, primary(t, "s0"), "SELECT slot FROM slots ORDER BY 1"); !slices.Equal(got, []string{"5", "999"}) {
		t.Errorf("s0 slots %q", got)
	}
	if got := rowsOf(t, primary(t, "s1"), "SELECT slot FROM slots ORDER BY 1"); !slices.Equal(got, []string{"1000", "1500"}) {
		t.Errorf("s1 slots %q", got)
	}
	_, err = copyIn(t, c.PgConn(), "COPY slots FROM STDIN (FORMAT csv)", []byte("6,a\n1600,b\n2500,c\n7,d\n"))
	pe := pgErr(err)
	if pe == nil || pe.Code != "23514" || pe.Where != `COPY slots, line 3, column slot: "2500"` {
		t.Errorf("key without a cluster: %v (where %q)", err, whereOf(err))
	}
	for _, cl := range clusters() {
		if n := countOn(t, cl, "slots", "slot IN (6, 7, 1600)"); n != 0 {
			t.Errorf("%d rows of the failed COPY on %s", n, cl)
		}
	}
}

// A COPY inside a transaction block is part of it: ROLLBACK leaves
// nothing on any cluster; COMMIT keeps every row; the transaction sees
// its own rows.
func TestCopyInTransaction(t *testing.T) {
	c := router(t)
	base := int64(3_000_000)
	sqlExec(t, c, "BEGIN")
	if _, err := copyIn(t, c.PgConn(), "COPY items (id, name) FROM STDIN", []byte(fmt.Sprintf("%d\ta\n%d\tb\n%d\tc\n%d\td\n", base, base+1, base+2, base+3))); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.QueryRow(ctxT(t), "SELECT count(*) FROM items WHERE id BETWEEN $1 AND $2", base, base+3).Scan(&n); err != nil || n != 4 {
		t.Errorf("inside the transaction: %d rows, %v", n, err)
	}
	sqlExec(t, c, "ROLLBACK")
	for _, cl := range clusters() {
		if n := countOn(t, cl, "items", fmt.Sprintf("id BETWEEN %d AND %d", base, base+3)); n != 0 {
			t.Errorf("%d rows on %s after ROLLBACK", n, cl)
		}
	}
	sqlExec(t, c, "BEGIN")
	if _, err := copyIn(t, c.PgConn(), "COPY items (id, name) FROM STDIN", []byte(fmt.Sprintf("%d\ta\n%d\tb\n%d\tc\n%d\td\n", base, base+1, base+2, base+3))); err != nil {
		t.Fatal(err)
	}
	sqlExec(t, c, "COMMIT")
	assertPlaced(t, "items", "id", "by_id", fmt.Sprintf("id BETWEEN %d AND %d", base, base+3), ids(base, 4))
}

// CopyFail from the client (pgconn sends it when its reader fails) aborts
// the COPY on every cluster: nothing is committed.
func TestCopyFail(t *testing.T) {
	c := router(t)
	base := int64(4_000_000)
	r := &failingReader{data: itemsText(base, 300), err: fmt.Errorf("the client gave up")}
	_, err := c.PgConn().CopyFrom(ctxT(t), r, "COPY items FROM STDIN")
	pe := pgErr(err)
	if pe == nil || pe.Code != "57014" || !strings.Contains(pe.Message, "COPY from stdin failed") {
		t.Errorf("CopyFail: %v, want 57014 COPY from stdin failed", err)
	}
	for _, cl := range clusters() {
		if n := countOn(t, cl, "items", fmt.Sprintf("id BETWEEN %d AND %d", base, base+300)); n != 0 {
			t.Errorf("%d rows on %s after CopyFail", n, cl)
		}
	}
	// The session goes on.
	var one int
	if err := c.QueryRow(ctxT(t), "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}

// Without a column list the router reads the table's column order from
// the catalog; a COPY whose column list lacks the key is refused.
func TestCopyInColumns(t *testing.T) {
	c := router(t)
	if _, err := copyIn(t, c.PgConn(), "COPY items (name) FROM STDIN", []byte("x\n")); pgErr(err) == nil || pgErr(err).Code != "0A000" {
		t.Errorf("COPY without the key: %v, want 0A000", err)
	}
	// notes' key is its second column.
	base := "n-col"
	if _, err := copyIn(t, c.PgConn(), "COPY notes FROM STDIN", []byte("body\t"+base+"1\t1\nbody\t"+base+"2\t2\n")); err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{base + "1", base + "2"} {
		cl := owner(t, "by_code", shardmap.TextKey(code))
		if n := countOn(t, cl, "notes", "code = '"+code+"'"); n != 1 {
			t.Errorf("note %s: %d rows on %s", code, n, cl)
		}
	}
}

// A cluster that fails when the COPY commits (a deferred unique
// constraint, checked at PREPARE TRANSACTION) rolls back every cluster's
// rows: the two-phase commit is all or nothing.
func TestCopyInCommitFailureRollsBackEverywhere(t *testing.T) {
	c := router(t)
	s0, s1 := keysOn(t, "s0", 3), keysOn(t, "s1", 3)
	// Two rows of s1 share a key under a deferred primary key: only the
	// commit notices.
	data := fmt.Sprintf("%d\t1\n%d\t7\n%d\t2\n%d\t8\n", s0[0], s1[0], s0[1], s1[0])
	_, err := copyIn(t, c.PgConn(), "COPY uniq FROM STDIN", []byte(data))
	if pe := pgErr(err); pe == nil || pe.Code != "23505" {
		t.Fatalf("COPY whose commit fails on s1: %v, want 23505", err)
	}
	for _, cl := range clusters() {
		if n := countOn(t, cl, "uniq", ""); n != 0 {
			t.Errorf("%d rows committed on %s", n, cl)
		}
		if n := countOn(t, cl, "pg_prepared_xacts", ""); n != 0 {
			t.Errorf("%d prepared transactions left on %s", n, cl)
		}
	}
}

// CSV with its own quote and escape characters and delimiter: the key is
// read as PostgreSQL reads it, even when quoted and escaped.
func TestCopyInCSVQuoteEscape(t *testing.T) {
	sql := `COPY notes (code, body, n) FROM STDIN WITH (FORMAT csv, DELIMITER ';', QUOTE '|', ESCAPE '\', NULL 'nil')`
	var b strings.Builder
	for i := range 60 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "|qe-%d;x|;|body \\| ; \\\\ %d|;%d\n", i, i, i)
		case 1:
			fmt.Fprintf(&b, "qe-%d;nil;%d\n", i, i)
		case 2:
			fmt.Fprintf(&b, "q|e-%d|;|two\nlines|;%d\n", i, i)
		default:
			fmt.Fprintf(&b, "|qe-\\|%d|;\\;%d\n", i, i)
		}
	}
	for _, c := range []*pgx.Conn{router(t), ref(t)} {
		if tag, err := copyIn(t, c.PgConn(), sql, []byte(b.String())); err != nil || tag.String() != "COPY 60" {
			t.Fatalf("%s: %v", tag, err)
		}
	}
	sameRows(t, "SELECT code, body, n FROM notes WHERE code LIKE 'q%' ORDER BY code COLLATE \"C\"")
	for _, cl := range clusters() {
		for _, code := range rowsOf(t, primary(t, cl), "SELECT code FROM notes WHERE code LIKE 'q%'") {
			if o := owner(t, "by_code", shardmap.TextKey(code)); o != cl {
				t.Errorf("note %q is on %s, belongs on %s", code, cl, o)
			}
		}
	}
}

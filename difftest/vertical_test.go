package difftest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// Writes to a vertically partitioned table (wallets: three co-located
// groups) give the same table as one PostgreSQL after every statement, through the
// simple and the extended protocol; every group's rows live on their
// key's cluster; a statement that fails in one group leaves no row in any.
func TestVerticalWrites(t *testing.T) {
	ctx := context.Background()
	router, ref, both := verticalPair(t, "wallets")
	both(`CREATE TABLE wallets (owner_id bigint PRIMARY KEY, label text NOT NULL, balance numeric(12,2) DEFAULT 0 CHECK (balance >= 0), currency text, tag text)`)
	t.Cleanup(func() {
		router.Exec(context.Background(), "DROP TABLE IF EXISTS wallets")
		ref.Exec(context.Background(), "DROP TABLE IF EXISTS wallets")
	})
	var vals []string
	for i := 1; i <= 40; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'w%d', %d.50, 'EUR', 't%d')", i, i, i*10, i%3))
	}
	both("INSERT INTO wallets (owner_id, label, balance, currency, tag) VALUES " + strings.Join(vals, ", "))
	both("INSERT INTO wallets (owner_id, label) VALUES ($1, $2)", 41, "only the label")
	both("INSERT INTO wallets VALUES (42, 'all columns', 1.25, 'USD', 'x')")
	both("UPDATE wallets SET balance = balance + 1 WHERE owner_id = 7")
	both("UPDATE wallets SET label = 'renamed', currency = 'CHF' WHERE owner_id = $1", 8)
	both("UPDATE wallets SET balance = length(label) WHERE owner_id = 9")
	both("UPDATE wallets SET tag = upper(tag) WHERE owner_id = 10")
	both("UPDATE wallets SET balance = 0 WHERE owner_id IN (11, 12, 13) AND label LIKE 'w1%'")
	both("DELETE FROM wallets WHERE owner_id = 14")
	both("DELETE FROM wallets WHERE owner_id = 15 AND currency = 'EUR'")
	both("DELETE FROM wallets WHERE owner_id = ANY($1)", []int64{16})
	both("ALTER TABLE wallets ALTER COLUMN currency SET DEFAULT 'EUR'")
	both("INSERT INTO wallets (owner_id, label) VALUES (43, 'default currency')")
	both("CREATE INDEX wallets_by_label ON wallets (label)")

	var label string
	if err := router.QueryRow(ctx, "INSERT INTO wallets (owner_id, label, balance) VALUES ($1, $2, 5) RETURNING label", 44, "returned").Scan(&label); err != nil || label != "returned" {
		t.Fatalf("INSERT ... RETURNING: %q %v", label, err)
	}
	ref.Exec(ctx, "INSERT INTO wallets (owner_id, label, balance) VALUES (44, 'returned', 5)")
	same(t, router, ref, "SELECT * FROM wallets ORDER BY owner_id")

	// A row that breaks a constraint of one group: no group keeps any row
	// of the statement.
	_, err := router.Exec(ctx, "INSERT INTO wallets (owner_id, label, balance, tag) VALUES (45, 'fine', 1, 'a'), (46, 'negative', -1, 'b')")
	if code := sqlState(err); code != "23514" {
		t.Fatalf("INSERT with a negative balance: %v, want 23514", err)
	}
	same(t, router, ref, "SELECT * FROM wallets ORDER BY owner_id")
	for _, g := range []string{"wallets_main", "wallets_money", "wallets_tags"} {
		for _, id := range []int64{45, 46} {
			if n := rowsOn(t, g, id); n != 0 {
				t.Errorf("%s has %d rows of owner %d after the failed INSERT", g, n, id)
			}
		}
	}

	// Every group's rows on their key's cluster, and nowhere else.
	snap := stack.Router.Snapshot()
	for _, g := range snap.Map.Tables["wallets"].Vertical {
		for _, id := range []int64{1, 2, 3, 41, 42} {
			want, err := g.Distribution.ClusterFor(shardmap.IntKey(id))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range stack.Deployment.Clusters {
				n := rowsOnCluster(t, c.Name, g.Name, id)
				if (c.Name == want) != (n == 1) || n > 1 {
					t.Errorf("%s owner %d: %d rows on %s (belongs on %s)", g.Name, id, n, c.Name, want)
				}
			}
		}
	}

	// A read of one group's columns reads that group only.
	var plan []string
	rows, err := router.Query(ctx, "EXPLAIN SELECT label FROM wallets WHERE owner_id = 3", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		rows.Scan(&line)
		plan = append(plan, line)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "wallets_main") || strings.Contains(text, "wallets_money") || strings.Contains(text, "wallets_tags") {
		t.Errorf("EXPLAIN of a read of one group:\n%s", text)
	}

	// Changes that read one group and write another placed apart cannot
	// share a snapshot: refused, not run half.
	// (profiles_prefs is placed apart from the other groups of profiles.)
	for _, sql := range []string{"DELETE FROM profiles WHERE nickname = 'nobody'", "UPDATE profiles SET theme = nickname WHERE customer_id = 1"} {
		if _, err := router.Exec(ctx, sql); sqlState(err) != "0A000" {
			t.Errorf("%s: %v, want 0A000", sql, err)
		}
	}
	both("DELETE FROM wallets WHERE owner_id = 20 AND (label = 'w20' OR tag = 't2')")
	both("UPDATE wallets SET tag = label, balance = balance * 2 WHERE owner_id = 21")

	// Changes whose rows lie on several clusters: each cluster changes
	// every group it touches in one statement.
	bothRows := func(sql string) {
		t.Helper()
		if got, want := rowsText(t, router, sql), rowsText(t, ref, sql); got != want {
			t.Fatalf("%s\nrouter:\n%s\nreference:\n%s", sql, got, want)
		}
		same(t, router, ref, "SELECT * FROM wallets ORDER BY owner_id")
	}
	both("UPDATE wallets SET balance = balance + 0.5")
	both("UPDATE wallets SET tag = 'rich' WHERE balance > 300")
	both("DELETE FROM wallets WHERE currency = 'CHF' OR tag = 'rich'")
	both("DELETE FROM wallets WHERE owner_id IN (SELECT owner_id FROM wallets WHERE tag = 't1')")
	both("UPDATE wallets SET label = label || '!' WHERE owner_id = ANY($1)", []int64{2, 3, 5, 17})
	both("UPDATE wallets SET tag = label || tag WHERE owner_id = ANY($1)", []int64{1, 4, 6, 9})
	both("CREATE TABLE wallet_log (owner_id bigint, label text, balance numeric)")
	t.Cleanup(func() {
		router.Exec(context.Background(), "DROP TABLE IF EXISTS wallet_log")
		ref.Exec(context.Background(), "DROP TABLE IF EXISTS wallet_log")
	})
	both("INSERT INTO wallet_log SELECT owner_id, label, balance FROM wallets WHERE balance > 100")
	same(t, router, ref, "SELECT * FROM wallet_log ORDER BY owner_id")
	bothRows("DELETE FROM wallets WHERE owner_id = 22 RETURNING owner_id, balance, tag")
	bothRows("DELETE FROM wallets WHERE owner_id = 23 RETURNING *")
	for _, sql := range []string{"DELETE FROM wallets WHERE balance > (SELECT avg(balance) FROM wallets)", "INSERT INTO wallets SELECT * FROM wallets", "INSERT INTO wallets (label) VALUES ('no key')"} {
		if _, err := router.Exec(ctx, sql); sqlState(err) != "0A000" {
			t.Errorf("%s: %v, want 0A000", sql, err)
		}
	}
	same(t, router, ref, "SELECT * FROM wallets ORDER BY owner_id")

	// COPY: every group gets its columns of every row, or none does;
	// PostgreSQL's own errors about the data, with the client's lines.
	copyBoth := func(sql, data string, fields func(*pgconn.PgError) string) {
		t.Helper()
		got, gerr := router.PgConn().CopyFrom(ctx, strings.NewReader(data), sql)
		want, werr := ref.PgConn().CopyFrom(ctx, strings.NewReader(data), sql)
		if got.String() != want.String() || pgFields(gerr, fields) != pgFields(werr, fields) {
			t.Fatalf("%s\nrouter: %q %v\nreference: %q %v", sql, got.String(), gerr, want.String(), werr)
		}
		same(t, router, ref, "SELECT * FROM wallets ORDER BY owner_id")
	}
	whole := func(e *pgconn.PgError) string { return e.Code + ": " + e.Message + " (" + e.Where + ")" }
	code := func(e *pgconn.PgError) string { return e.Code }
	copyBoth("COPY wallets FROM STDIN", "100\tcopied\t5.25\tUSD\tc\n101\tsecond\t\\N\tEUR\tc\n", whole)
	copyBoth("COPY wallets (tag, owner_id, label) FROM STDIN (FORMAT csv, HEADER)", "tag,owner_id,label\nx,102,\"with, comma\"\ny,103,plain\n", whole)
	copyBoth("COPY wallets (owner_id, label, balance) FROM STDIN", "104\tok\t1\n105\tbad\tnot a number\n", whole)
	copyBoth("COPY wallets (owner_id, label, balance) FROM STDIN", "106\tok\t1\n107\tnegative\t-5\n", code)
	copyBoth("COPY wallets (owner_id, tag) FROM STDIN", "108\tno label\n", code)
	tx, err := router.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, strings.NewReader("109\trolled back\n"), "COPY wallets (owner_id, label) FROM STDIN"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"wallets_main", "wallets_money", "wallets_tags"} {
		for _, id := range []int64{100, 102, 104, 106, 109} {
			want := 0
			if id == 100 || id == 102 {
				want = 1
			}
			if n := rowsOn(t, g, id); n != want {
				t.Errorf("%s has %d rows of owner %d after COPY, want %d", g, n, id, want)
			}
		}
	}
	both("TRUNCATE wallets")
	both("DROP TABLE wallets")
}

// Writes to a vertically partitioned table whose groups are placed apart
// (badges: badges_rank on another distribution) give the same table as one
// PostgreSQL, touch every group atomically, and refuse what would need
// one snapshot across the groups.
func TestVerticalWritesPlacedApart(t *testing.T) {
	ctx := context.Background()
	router, ref, both := verticalPair(t, "badges")
	both(`CREATE TABLE badges (owner_id bigint PRIMARY KEY, title text NOT NULL, points int DEFAULT 0 CHECK (points >= 0))`)
	t.Cleanup(func() {
		router.Exec(context.Background(), "DROP TABLE IF EXISTS badges")
		ref.Exec(context.Background(), "DROP TABLE IF EXISTS badges")
	})
	var vals []string
	for i := 1; i <= 20; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'b%d', %d)", i, i, i%6))
	}
	both("INSERT INTO badges (owner_id, title, points) VALUES " + strings.Join(vals, ", "))
	both("UPDATE badges SET points = 7, title = 'seven' WHERE owner_id = 7")
	both("UPDATE badges SET points = points + 1 WHERE owner_id = $1", 8)
	both("DELETE FROM badges WHERE owner_id = 3")
	both("DELETE FROM badges WHERE owner_id > 15")
	for _, sql := range []string{"DELETE FROM badges WHERE points > 2", "UPDATE badges SET points = length(title) WHERE owner_id = 1"} {
		if _, err := router.Exec(ctx, sql); sqlState(err) != "0A000" {
			t.Errorf("%s: %v, want 0A000", sql, err)
		}
	}
	// A row that breaks the placed-apart group's constraint leaves no row
	// of the statement in the other group.
	_, err := router.Exec(ctx, "INSERT INTO badges (owner_id, title, points) VALUES (21, 'fine', 1), (22, 'negative', -1)")
	if code := sqlState(err); code != "23514" {
		t.Fatalf("INSERT with negative points: %v, want 23514", err)
	}
	for _, id := range []int64{21, 22} {
		if n := rowsOn(t, "badges_main", id) + rowsOn(t, "badges_rank", id); n != 0 {
			t.Errorf("%d rows of owner %d after the failed INSERT", n, id)
		}
	}
	same(t, router, ref, "SELECT * FROM badges ORDER BY owner_id")
	both("DELETE FROM badges")
}

// verticalPair connects to the router and the reference server; both runs
// a statement on each, wants the same outcome, then the same rows in
// table (ordered by owner_id).
func verticalPair(t *testing.T, table string) (router, ref *pgx.Conn, both func(sql string, args ...any)) {
	ctx := context.Background()
	var err error
	if router, err = pgx.Connect(ctx, stack.RouterDSN()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { router.Close(context.Background()) })
	if ref, err = pgx.Connect(ctx, reference.DSN("app")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close(context.Background()) })
	both = func(sql string, args ...any) {
		t.Helper()
		got, gerr := router.Exec(ctx, sql, args...)
		want, werr := ref.Exec(ctx, sql, args...)
		if (gerr == nil) != (werr == nil) || got.String() != want.String() {
			t.Fatalf("%s\nrouter: %q %v\nreference: %q %v", sql, got.String(), gerr, want.String(), werr)
		}
		same(t, router, ref, "SELECT * FROM "+table+" ORDER BY owner_id")
	}
	return router, ref, both
}

// pgFields renders the chosen fields of a PostgreSQL error ("" for none).
func pgFields(err error, fields func(*pgconn.PgError) string) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fields(pe)
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// same compares a query's rows on the router and the reference.
func same(t *testing.T, router, ref *pgx.Conn, sql string) {
	t.Helper()
	got, want := rowsText(t, router, sql), rowsText(t, ref, sql)
	if got != want {
		t.Fatalf("%s\nrouter:\n%s\nreference:\n%s", sql, got, want)
	}
}

func rowsText(t *testing.T, c *pgx.Conn, sql string) string {
	t.Helper()
	rows, err := c.Query(context.Background(), sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return "(no table)"
		}
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, vals...)
	}
	if err := rows.Err(); err != nil && !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("%s: %v", sql, err)
	}
	return b.String()
}

// rowsOn counts a group's rows of one owner on every cluster.
func rowsOn(t *testing.T, table string, id int64) int {
	t.Helper()
	n := 0
	for _, c := range stack.Deployment.Clusters {
		n += rowsOnCluster(t, c.Name, table, id)
	}
	return n
}

func rowsOnCluster(t *testing.T, cluster, table string, id int64) int {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, stack.Info().Clusters[cluster].Primary)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE owner_id = $1", id).Scan(&n); err != nil {
		t.Fatalf("%s on %s: %v", table, cluster, err)
	}
	return n
}

func sqlState(err error) string {
	if err == nil {
		return ""
	}
	type coded interface{ SQLState() string }
	if c, ok := err.(coded); ok {
		return c.SQLState()
	}
	return "?"
}

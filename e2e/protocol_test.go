package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Several statements in one Query message run as one implicit transaction
// even when they reach several clusters: an error anywhere undoes all.
func TestMultiStatementQueryIsOneTransaction(t *testing.T) {
	c := connect(t)
	a, b := keyOn(t, "s0"), keyOn(t, "s1")
	sql := fmt.Sprintf("INSERT INTO customers (id, name) VALUES (%d, 'a'); INSERT INTO customers (id, name) VALUES (%d, 'b'); SELECT 1/0", a, b)
	_, err := c.Exec(ctxT(t), sql)
	if sqlstate(err) != "22012" {
		t.Fatalf("want division_by_zero, got %v", err)
	}
	for _, id := range []int64{a, b} {
		for _, cl := range clusters() {
			if n := countOn(t, cl, "customers", "id", id); n != 0 {
				t.Errorf("id %d committed on %s despite the failed query", id, cl)
			}
		}
	}
	if st := c.PgConn().TxStatus(); st != 'I' {
		t.Errorf("transaction status %c after a failed implicit transaction, want I", st)
	}
	// Without the error both commit, and results of every statement come
	// back in order.
	res, err := c.PgConn().Exec(ctxT(t), strings.Replace(sql, "SELECT 1/0", "SELECT name FROM customers WHERE id = "+fmt.Sprint(b), 1)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[0].CommandTag.String() != "INSERT 0 1" || len(res[2].Rows) != 1 || string(res[2].Rows[0][0]) != "b" {
		t.Errorf("unexpected results %+v", res)
	}
	assertPlacedOn(t, "customers", "id", a, "s0")
	assertPlacedOn(t, "customers", "id", b, "s1")
	// A syntax error anywhere fails the whole text before anything runs.
	_, err = c.Exec(ctxT(t), fmt.Sprintf("INSERT INTO customers (id, name) VALUES (%d, 'c'); SELEC 1", newKey()))
	if sqlstate(err) != "42601" {
		t.Errorf("syntax error: %v", err)
	}
}

// An explicit transaction spanning clusters commits everywhere or nowhere.
func TestTransactionAcrossShards(t *testing.T) {
	c := connect(t)
	ctx := ctxT(t)
	a, b := keyOn(t, "s0"), keyOn(t, "s1")
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{a, b} {
		if _, err := tx.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'tx')", id); err != nil {
			t.Fatal(err)
		}
	}
	if st := c.PgConn().TxStatus(); st != 'T' {
		t.Errorf("status %c inside a transaction, want T", st)
	}
	// Not visible outside before COMMIT.
	other := connect(t)
	var n int
	other.QueryRow(ctx, "SELECT count(*) FROM customers WHERE id = $1", a).Scan(&n)
	if n != 0 {
		t.Error("uncommitted row visible to another session")
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	assertPlacedOn(t, "customers", "id", a, "s0")
	assertPlacedOn(t, "customers", "id", b, "s1")
	for _, cl := range clusters() {
		var prepared int
		primary(t, cl).QueryRow(ctx, "SELECT count(*) FROM pg_prepared_xacts").Scan(&prepared)
		if prepared != 0 {
			t.Errorf("%d prepared transactions left on %s", prepared, cl)
		}
	}

	// ROLLBACK undoes both.
	x, y := keyOn(t, "s0"), keyOn(t, "s1")
	tx, _ = c.Begin(ctx)
	tx.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'rb')", x)
	tx.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'rb')", y)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{x, y} {
		for _, cl := range clusters() {
			if countOn(t, cl, "customers", "id", id) != 0 {
				t.Errorf("rolled back row %d present on %s", id, cl)
			}
		}
	}
}

// After an error inside a transaction, every statement but ROLLBACK fails
// with 25P02 until the transaction ends, as in PostgreSQL; nothing commits.
func TestErrorAbortsTheTransaction(t *testing.T) {
	c := connect(t)
	ctx := ctxT(t)
	a, b := keyOn(t, "s0"), keyOn(t, "s1")
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	c.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'x')", a)
	if _, err := c.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, NULL)", b); sqlstate(err) != "23502" {
		t.Fatalf("want not_null_violation from the shard, got %v", err)
	}
	if st := c.PgConn().TxStatus(); st != 'E' {
		t.Errorf("status %c after an error in a block, want E", st)
	}
	for _, sql := range []string{"SELECT 1", "SELECT * FROM customers WHERE id = 1", "INSERT INTO customers (id, name) VALUES (1, 'x')"} {
		if _, err := c.Exec(ctx, sql); sqlstate(err) != "25P02" {
			t.Errorf("%s in an aborted transaction: %v, want 25P02", sql, err)
		}
	}
	// COMMIT of an aborted transaction rolls back.
	tag, err := c.PgConn().Exec(ctx, "COMMIT").ReadAll()
	if err != nil || tag[0].CommandTag.String() != "ROLLBACK" {
		t.Errorf("COMMIT of a failed transaction: %v %v, want ROLLBACK", tag, err)
	}
	if st := c.PgConn().TxStatus(); st != 'I' {
		t.Errorf("status %c after COMMIT, want I", st)
	}
	if countOn(t, "s0", "customers", "id", a) != 0 {
		t.Error("row of an aborted transaction was committed")
	}
}

// ROLLBACK TO SAVEPOINT recovers from an error, on every cluster of the
// transaction, including one that joined after the savepoint.
func TestSavepointsAcrossShards(t *testing.T) {
	c := connect(t)
	ctx := ctxT(t)
	a, b, d := keyOn(t, "s0"), keyOn(t, "s1"), keyOn(t, "s1")
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "INSERT INTO customers (id, name) VALUES ($1, 'keep')", a)
	mustExec(t, c, "SAVEPOINT sp1")
	mustExec(t, c, "INSERT INTO customers (id, name) VALUES ($1, 'undone')", b)
	if _, err := c.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'dup')", a); sqlstate(err) != "23505" {
		t.Fatalf("want unique_violation, got %v", err)
	}
	mustExec(t, c, "ROLLBACK TO SAVEPOINT sp1")
	if st := c.PgConn().TxStatus(); st != 'T' {
		t.Errorf("status %c after ROLLBACK TO, want T", st)
	}
	mustExec(t, c, "INSERT INTO customers (id, name) VALUES ($1, 'after')", d)
	mustExec(t, c, "RELEASE SAVEPOINT sp1")
	if _, err := c.Exec(ctx, "ROLLBACK TO SAVEPOINT sp1"); sqlstate(err) != "3B001" {
		t.Errorf("released savepoint: %v, want 3B001", err)
	}
	mustExec(t, c, "ROLLBACK")
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "INSERT INTO customers (id, name) VALUES ($1, 'keep')", a)
	mustExec(t, c, "SAVEPOINT s")
	mustExec(t, c, "INSERT INTO customers (id, name) VALUES ($1, 'undone')", b)
	mustExec(t, c, "ROLLBACK TO s")
	mustExec(t, c, "INSERT INTO customers (id, name) VALUES ($1, 'after')", d)
	mustExec(t, c, "COMMIT")
	assertPlacedOn(t, "customers", "id", a, "s0")
	assertPlacedOn(t, "customers", "id", d, "s1")
	if countOn(t, "s1", "customers", "id", b) != 0 {
		t.Error("row inserted after the savepoint survived ROLLBACK TO")
	}
	if _, err := c.Exec(ctx, "SAVEPOINT outside"); sqlstate(err) != "25P01" {
		t.Errorf("SAVEPOINT outside a transaction: %v, want 25P01", err)
	}
}

func mustExec(t testing.TB, c *pgx.Conn, sql string, args ...any) pgconn.CommandTag {
	t.Helper()
	tag, err := c.Exec(ctxT(t), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return tag
}

// A pgx batch pipelines many statements before one Sync: they run in
// order, as one implicit transaction.
func TestPipelinedBatch(t *testing.T) {
	c := connect(t)
	ctx := ctxT(t)
	ids := []int64{keyOn(t, "s0"), keyOn(t, "s1"), keyOn(t, "s0"), keyOn(t, "s1")}
	batch := &pgx.Batch{}
	for _, id := range ids {
		batch.Queue("INSERT INTO customers (id, name) VALUES ($1, 'batch')", id)
	}
	for _, id := range ids {
		batch.Queue("SELECT id, name FROM customers WHERE id = $1", id)
	}
	br := c.SendBatch(ctx, batch)
	for range ids {
		if _, err := br.Exec(); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		var got int64
		var name string
		if err := br.QueryRow().Scan(&got, &name); err != nil || got != id || name != "batch" {
			t.Errorf("batch read %d: %d %q %v", id, got, name, err)
		}
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		assertPlacedOn(t, "customers", "id", id, ownerOf(t, id))
	}

	// An error in the middle: the statements after it do not run and the
	// ones before it are rolled back with the implicit transaction.
	x, y, z := keyOn(t, "s0"), keyOn(t, "s1"), keyOn(t, "s0")
	batch = &pgx.Batch{}
	batch.Queue("INSERT INTO customers (id, name) VALUES ($1, 'b2')", x)
	batch.Queue("INSERT INTO customers (id, name) VALUES ($1, 'b2')", y)
	batch.Queue("INSERT INTO customers (id, name) VALUES ($1, NULL)", z)
	batch.Queue("SELECT 1")
	err := c.SendBatch(ctx, batch).Close()
	if sqlstate(err) != "23502" {
		t.Fatalf("batch error: %v, want 23502", err)
	}
	for _, id := range []int64{x, y, z} {
		for _, cl := range clusters() {
			if countOn(t, cl, "customers", "id", id) != 0 {
				t.Errorf("row %d of a failed batch committed on %s", id, cl)
			}
		}
	}
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Errorf("session after failed batch: %v", err)
	}
}

// Shard errors reach the client with their SQLSTATE and fields, and the
// session goes on.
func TestShardErrorsKeepTheirSQLSTATE(t *testing.T) {
	c := connect(t)
	id := newKey()
	mustExec(t, c, "INSERT INTO customers (id, name) VALUES ($1, 'one')", id)
	_, err := c.Exec(ctxT(t), "INSERT INTO customers (id, name) VALUES ($1, 'two')", id)
	var pe *pgconn.PgError
	if sqlstate(err) != "23505" || !asPgError(err, &pe) || pe.ConstraintName != "customers_pkey" || pe.TableName != "customers" {
		t.Errorf("duplicate key: %#v", err)
	}
	_, err = c.Exec(ctxT(t), "SELECT nope FROM customers WHERE id = $1", id)
	if sqlstate(err) != "42703" {
		t.Errorf("undefined column: %v", err)
	}
	_, err = c.Exec(ctxT(t), "SELECT 1; SELECT nope FROM customers WHERE id = 7", pgx.QueryExecModeSimpleProtocol)
	if !asPgError(err, &pe) || pe.Code != "42703" || pe.Position != int32(strings.Index("SELECT 1; SELECT nope FROM customers WHERE id = 7", "nope")+1) {
		t.Errorf("error position in a multi-statement query: %#v", err)
	}
	var one int
	if err := c.QueryRow(ctxT(t), "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}

func asPgError(err error, pe **pgconn.PgError) bool {
	p, ok := err.(*pgconn.PgError)
	if ok {
		*pe = p
	}
	return ok
}

// Session settings reach clusters the session uses later, and planning
// follows search_path.
func TestSettingsFollowTheSession(t *testing.T) {
	c := connect(t)
	ctx := ctxT(t)
	mustExec(t, c, "SET TimeZone = 'Asia/Tokyo'")
	mustExec(t, c, "SET application_name = 'e2e-settings'")
	for _, cl := range clusters() {
		// The LEFT JOIN's ON condition places the statement on cl, and
		// the one row comes back even with no customer.
		var tz, app string
		if err := c.QueryRow(ctx, "SELECT current_setting('TimeZone'), current_setting('application_name') FROM (SELECT 1) s LEFT JOIN customers ON id = $1", keyOn(t, cl)).Scan(&tz, &app); err != nil {
			t.Fatal(err)
		}
		if tz != "Asia/Tokyo" || app != "e2e-settings" {
			t.Errorf("settings on %s: TimeZone %q application_name %q", cl, tz, app)
		}
	}
	// A SET inside a transaction that rolls back does not stick.
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "SET TimeZone = 'UTC'")
	mustExec(t, c, "ROLLBACK")
	var tz string
	c.QueryRow(ctx, "SHOW TimeZone").Scan(&tz)
	if tz != "Asia/Tokyo" {
		t.Errorf("TimeZone after rolled back SET = %q", tz)
	}
	if c.PgConn().ParameterStatus("TimeZone") != "Asia/Tokyo" {
		t.Errorf("ParameterStatus TimeZone = %q", c.PgConn().ParameterStatus("TimeZone"))
	}
	mustExec(t, c, "RESET ALL")
	c.QueryRow(ctx, "SHOW application_name").Scan(&tz)
	if tz != "" {
		t.Errorf("application_name after RESET ALL = %q", tz)
	}
}

// DECLARE, FETCH and CLOSE run where the cursor lives.
func TestCursors(t *testing.T) {
	c := connect(t)
	id := keyOn(t, "s1")
	mustExec(t, c, "INSERT INTO orders (customer_id, id, amount) VALUES ($1, 1, 10), ($1, 2, 20), ($1, 3, 30)", id)
	mustExec(t, c, "BEGIN")
	mustExec(t, c, fmt.Sprintf("DECLARE cur CURSOR FOR SELECT id FROM orders WHERE customer_id = %d ORDER BY id", id))
	rows, err := c.Query(ctxT(t), "FETCH 2 FROM cur")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := pgx.CollectRows(rows, pgx.RowTo[int64])
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("FETCH 2 = %v", got)
	}
	mustExec(t, c, "CLOSE cur")
	if _, err := c.Exec(ctxT(t), "FETCH 1 FROM cur"); sqlstate(err) != "34000" {
		t.Errorf("FETCH from a closed cursor: %v", err)
	}
	mustExec(t, c, "ROLLBACK")
}

// The router answers SHOW of its own settings.
func TestRouterSettings(t *testing.T) {
	c := connect(t)
	var v string
	if err := c.QueryRow(ctxT(t), "SHOW sqlrouter.version").Scan(&v); err != nil || v == "" {
		t.Errorf("SHOW sqlrouter.version: %q %v", v, err)
	}
	if _, err := c.Exec(ctxT(t), "SET sqlrouter.version = 'x'"); sqlstate(err) != "55P02" {
		t.Errorf("SET of a read-only router setting: %v", err)
	}
	if _, err := c.Exec(ctxT(t), "SHOW sqlrouter.nope"); sqlstate(err) != "42704" {
		t.Errorf("SHOW of an unknown router setting: %v", err)
	}
}

var _ = context.Background

package crashtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// isolationOn runs, inside the client's open transaction, a write on item
// id that returns the isolation level of the backend transaction it ran
// in.
func isolationOn(ctx context.Context, t *testing.T, c *pgx.Conn, id int64) string {
	t.Helper()
	var level string
	if err := c.QueryRow(ctx, "UPDATE items SET v = v WHERE id = $1 RETURNING current_setting('transaction_isolation')", id).Scan(&level); err != nil {
		t.Fatalf("item %d: %v", id, err)
	}
	return level
}

// However the client chooses an isolation level, every cluster the
// transaction reaches runs its part at that level, and the level ends
// with the transaction when it was chosen for one transaction only.
func TestIsolationLevelReachesEveryCluster(t *testing.T) {
	r := startRouter(t, routerOptions{ID: "iso"})
	it := createItems(t, r)
	ctx := testContext(t, time.Minute)
	for _, tc := range []struct {
		name  string
		setup []string
		// level is the level of the transaction; after, the level of the
		// next plain BEGIN.
		level, after string
	}{
		{"default", []string{"BEGIN"}, "read committed", "read committed"},
		{"BEGIN ISOLATION LEVEL", []string{"BEGIN ISOLATION LEVEL REPEATABLE READ"}, "repeatable read", "read committed"},
		{"START TRANSACTION", []string{"START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE"}, "serializable", "read committed"},
		{"SET TRANSACTION", []string{"BEGIN", "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"}, "serializable", "read committed"},
		{"SET LOCAL", []string{"BEGIN", "SET LOCAL transaction_isolation = 'repeatable read'"}, "repeatable read", "read committed"},
		{"SESSION CHARACTERISTICS", []string{"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ", "BEGIN"}, "repeatable read", "repeatable read"},
		{"default_transaction_isolation", []string{"SET default_transaction_isolation = 'serializable'", "BEGIN"}, "serializable", "serializable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := connectRouter(t, r)
			execAll(ctx, t, c, tc.setup...)
			for _, cl := range []string{"s0", "s1"} {
				if got := isolationOn(ctx, t, c, it.on[cl][0]); got != tc.level {
					t.Errorf("%s: %s, want %s", cl, got, tc.level)
				}
			}
			mustExec(ctx, t, c, "COMMIT")
			mustExec(ctx, t, c, "BEGIN")
			// The other order: s1 first.
			for _, cl := range []string{"s1", "s0"} {
				if got := isolationOn(ctx, t, c, it.on[cl][1]); got != tc.after {
					t.Errorf("next transaction on %s: %s, want %s", cl, got, tc.after)
				}
			}
			mustExec(ctx, t, c, "COMMIT")
		})
	}
}

// SET TRANSACTION ISOLATION LEVEL after the transaction ran a query fails
// as in PostgreSQL (25001), and the transaction is aborted.
func TestSetTransactionAfterAQueryFails(t *testing.T) {
	r := startRouter(t, routerOptions{ID: "iso-late"})
	it := createItems(t, r)
	ctx := testContext(t, time.Minute)
	c := connectRouter(t, r)
	mustExec(ctx, t, c, "BEGIN")
	isolationOn(ctx, t, c, it.on["s0"][0])
	_, err := c.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
	if code := sqlstate(err); code != "25001" {
		t.Fatalf("SET TRANSACTION after a query: %v, want 25001", err)
	}
	if st := c.PgConn().TxStatus(); st != 'E' {
		t.Errorf("transaction status %c, want E", st)
	}
	c.Exec(ctx, "ROLLBACK")
}

// Each cluster gives the transaction its own snapshot, taken when the
// transaction first reaches it: there is no global snapshot. Under
// REPEATABLE READ a cluster already in the transaction keeps showing what
// it showed, while a cluster the transaction reaches later shows what was
// committed up to then, including a two-phase commit that happened in
// between.
func TestSnapshotsArePerCluster(t *testing.T) {
	r := startRouter(t, routerOptions{ID: "snap"})
	it := createItems(t, r)
	ctx := testContext(t, time.Minute)
	a, b := it.on["s0"][0], it.on["s1"][0]
	read := func(c *pgx.Conn, id int64) int64 {
		t.Helper()
		var v int64
		if err := c.QueryRow(ctx, "SELECT v FROM items WHERE id = $1", id).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		begin string
		// seenA is what the second read of a shows.
		seenA int64
	}{
		{"BEGIN ISOLATION LEVEL REPEATABLE READ", 0},
		{"BEGIN ISOLATION LEVEL READ COMMITTED", 1},
	} {
		t.Run(tc.begin, func(t *testing.T) {
			writer := connectRouter(t, r)
			if _, err := writer.Exec(ctx, "UPDATE items SET v = 0 WHERE id IN ($1, $2)", a, b); err != nil {
				// One statement over two clusters may be refused; reset
				// them one by one.
				for _, id := range []int64{a, b} {
					if _, err := writer.Exec(ctx, "UPDATE items SET v = 0 WHERE id = $1", id); err != nil {
						t.Fatal(err)
					}
				}
			}
			c := connectRouter(t, r)
			mustExec(ctx, t, c, tc.begin)
			if v := read(c, a); v != 0 {
				t.Fatalf("first read of %d: %d, want 0", a, v)
			}
			// A two-phase commit on both clusters, from another session.
			tx, err := writer.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []int64{a, b} {
				if _, err := tx.Exec(ctx, "UPDATE items SET v = 1 WHERE id = $1", id); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if v := read(c, a); v != tc.seenA {
				t.Errorf("second read of %d on s0: %d, want %d", a, v, tc.seenA)
			}
			if v := read(c, b); v != 1 {
				t.Errorf("first read of %d on s1, which the transaction reached after the commit: %d, want 1", b, v)
			}
			mustExec(ctx, t, c, "COMMIT")
		})
	}
}

// BEGIN READ ONLY reaches every cluster: a write anywhere fails with
// 25006, as in PostgreSQL, and commits nothing.
func TestReadOnlyTransactionRefusesWritesEverywhere(t *testing.T) {
	r := startRouter(t, routerOptions{ID: "ro"})
	it := createItems(t, r)
	ctx := testContext(t, time.Minute)
	c := connectRouter(t, r)
	for _, cl := range []string{"s0", "s1"} {
		for _, begin := range []string{"BEGIN READ ONLY", "START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"} {
			mustExec(ctx, t, c, begin)
			var v int64
			other := it.on[map[string]string{"s0": "s1", "s1": "s0"}[cl]][0]
			if err := c.QueryRow(ctx, "SELECT v FROM items WHERE id = $1", other).Scan(&v); err != nil {
				t.Fatal(err)
			}
			_, err := c.Exec(ctx, "UPDATE items SET v = 7 WHERE id = $1", it.on[cl][0])
			if code := sqlstate(err); code != "25006" {
				t.Errorf("%s, write on %s: %v, want 25006", begin, cl, err)
			}
			mustExec(ctx, t, c, "ROLLBACK")
		}
	}
	for _, cl := range []string{"s0", "s1"} {
		if n := queryInts(ctx, t, primaryDSN(cl), "SELECT count(*) FROM items WHERE v = 7"); n[0] != 0 {
			t.Errorf("%d rows written on %s in read-only transactions", n[0], cl)
		}
	}
}

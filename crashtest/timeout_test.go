package crashtest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/txn"
)

// prepareBy prepares, on each cluster, a transaction that inserts tx into
// crash_rows under GID <txid>.<cluster>, as a router that died would leave
// it.
func prepareBy(ctx context.Context, t *testing.T, txid, tx string, clusters ...string) {
	t.Helper()
	for _, cl := range clusters {
		c := connectPrimary(t, cl)
		sql := fmt.Sprintf("BEGIN; INSERT INTO crash_rows VALUES ('%s'); PREPARE TRANSACTION '%s.%s'", tx, txid, cl)
		if _, err := c.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// A router process finishes what dead routers left prepared: a
// transaction of its own router_id from an earlier run and one of a router
// that never came back. With a commit decision in etcd it commits at once;
// without one it records an abort and rolls back, but never before the
// prepared transaction is no_decision_timeout (3 s) old. A prepared
// transaction not named by sqlrouter is left alone.
func TestRouterResolvesWhatDeadRoutersLeft(t *testing.T) {
	setup(t)
	ctx := testContext(t, time.Minute)
	const timeout = 3 * time.Second
	onPrimaries(ctx, t, func(_ string, c *pgx.Conn) {
		mustExec(ctx, t, c, "DROP TABLE IF EXISTS crash_rows; CREATE TABLE crash_rows (tx text)")
	})
	const (
		decided   = "sqlr_rec.0dead.1"
		undecided = "sqlr_rec.0dead.2"
		ghost     = "sqlr_ghost.0dead.1"
	)
	prepareBy(ctx, t, decided, "decided", "s0", "s1")
	prepareBy(ctx, t, undecided, "undecided", "s0", "s1")
	prepareBy(ctx, t, ghost, "ghost", "s0", "s1")
	foreign := connectPrimary(t, "s0")
	if _, err := foreign.PgConn().Exec(ctx, "BEGIN; INSERT INTO crash_rows VALUES ('foreign'); PREPARE TRANSACTION 'other_app_1'").ReadAll(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { foreign.Exec(context.Background(), "ROLLBACK PREPARED 'other_app_1'") })
	if err := txn.NewEtcdLog(etcdCli, "rec", "").Record(ctx, decided, txn.Commit, []string{"s0", "s1"}); err != nil {
		t.Fatal(err)
	}

	prepared := preparedAt(ctx, t)
	startRouter(t, routerOptions{ID: "rec", NoDecisionTimeout: timeout})
	watchUntilResolved(ctx, t, timeout, prepared, map[string]bool{decided: false, undecided: true, ghost: true})

	want := map[string]int64{"decided": 2, "undecided": 0, "ghost": 0, "foreign": 0}
	for tx, n := range want {
		var got int64
		for _, c := range dep.Clusters {
			got += queryInts(ctx, t, c.Primary.DSN("app"), "SELECT count(*) FROM crash_rows WHERE tx = '"+tx+"'")[0]
		}
		if got != n {
			t.Errorf("%s: %d rows committed, want %d", tx, got, n)
		}
	}
	if left := preparedXacts(ctx, t); !slices.Equal(left, []string{"s0:other_app_1"}) {
		t.Errorf("prepared transactions left: %v, want only the foreign one", left)
	}
	for _, id := range []string{undecided, ghost} {
		d, found, err := decisionLog().Lookup(ctx, id)
		if err != nil || !found || d.Decision != txn.Abort || d.Router != "rec" {
			t.Errorf("decision of %s: %+v found=%v err=%v, want an abort recorded by rec", id, d, found, err)
		}
	}
	if _, found, _ := decisionLog().Lookup(ctx, decided); found {
		t.Errorf("the commit decision of %s was not forgotten", decided)
	}
}

// preparedAt returns when each transaction prepared on the primaries was
// prepared (its oldest participant), by transaction id, for the
// transactions named by sqlrouter.
func preparedAt(ctx context.Context, t *testing.T) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	onPrimaries(ctx, t, func(_ string, c *pgx.Conn) {
		rows, _ := c.Query(ctx, "SELECT gid, prepared FROM pg_prepared_xacts")
		var gid string
		var at time.Time
		if _, err := pgx.ForEachRow(rows, []any{&gid, &at}, func() error {
			if g, ok := txn.ParseGID(gid); ok && (out[g.Txn].IsZero() || at.Before(out[g.Txn])) {
				out[g.Txn] = at
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	return out
}

// watchUntilResolved polls the primaries until none of txids is prepared
// any more, checking the no-decision timeout on the way: a transaction
// marked true (no decision) must still be prepared at every poll that
// ends before it is timeout old (by the server's clock, from prepared).
func watchUntilResolved(ctx context.Context, t *testing.T, timeout time.Duration, prepared map[string]time.Time, txids map[string]bool) {
	t.Helper()
	for id := range txids {
		if prepared[id].IsZero() {
			t.Fatalf("%s is not prepared", id)
		}
	}
	deadline := time.Now().Add(timeout + 20*time.Second)
	for time.Now().Before(deadline) {
		present := map[string]bool{}
		var pollEnd time.Time
		onPrimaries(ctx, t, func(_ string, conn *pgx.Conn) {
			rows, _ := conn.Query(ctx, "SELECT gid FROM pg_prepared_xacts")
			gids, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			for _, gid := range gids {
				if g, ok := txn.ParseGID(gid); ok {
					present[g.Txn] = true
				}
			}
			// The scan ended before this.
			if err := conn.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&pollEnd); err != nil {
				t.Fatal(err)
			}
		})
		done := true
		for id, undecided := range txids {
			switch {
			case present[id]:
				done = false
			case undecided && pollEnd.Sub(prepared[id]) < timeout:
				t.Fatalf("%s was resolved before it was %s old (gone at %s, prepared at %s)", id, timeout, pollEnd, prepared[id])
			}
		}
		if done {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not resolved after %s: %v", timeout+20*time.Second, preparedXacts(ctx, t))
}

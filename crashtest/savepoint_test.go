package crashtest

import (
	"fmt"
	"testing"
	"time"
)

// Savepoints reach every cluster of the transaction, including one it
// reaches only after the savepoint was made; ROLLBACK TO undoes work and
// recovers from errors on every cluster; and the two-phase commit at the
// end keeps exactly what the savepoints left.
func TestSavepointsOnEveryCluster(t *testing.T) {
	r := startRouter(t, routerOptions{ID: "sp"})
	it := createItems(t, r)
	ctx := testContext(t, time.Minute)
	c := connectRouter(t, r)
	a, a2, b, b2 := it.on["s0"][0], it.on["s0"][1], it.on["s1"][0], it.on["s1"][1]
	run := func(sql string, args ...any) {
		t.Helper()
		if _, err := c.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s %v: %v", sql, args, err)
		}
	}
	set := func(id, v int64) { run("UPDATE items SET v = $2 WHERE id = $1", id, v) }
	// story leaves a = 1, b2 = 4 and the rest untouched, in an open
	// transaction.
	story := func() {
		t.Helper()
		run("BEGIN")
		set(a, 1)
		run("SAVEPOINT outer_sp") // s1 gets it when it joins
		set(b, 1)
		run("SAVEPOINT inner_sp")
		set(a, 2)
		set(b, 2)
		run("ROLLBACK TO SAVEPOINT inner_sp") // a = 1, b = 1
		set(a2, 3)
		run("ROLLBACK TO SAVEPOINT outer_sp") // a = 1; b and a2 undone
		set(b2, 4)
		run("SAVEPOINT before_error")
		if _, err := c.Exec(ctx, "UPDATE items SET v = 1 / 0 WHERE id = $1", b); sqlstate(err) != "22012" {
			t.Fatalf("division by zero on s1: %v", err)
		}
		run("ROLLBACK TO SAVEPOINT before_error")
		run("RELEASE SAVEPOINT outer_sp")
	}
	check := func(want map[int64]int64) {
		t.Helper()
		for id, v := range want {
			cl := it.clusterOf(id)
			got := queryInts(ctx, t, primaryDSN(cl), fmt.Sprintf("SELECT v FROM items WHERE id = %d", id))
			if len(got) != 1 || got[0] != v {
				t.Errorf("item %d on %s: %v, want %d", id, cl, got, v)
			}
		}
	}
	story()
	if _, err := c.Exec(ctx, "ROLLBACK TO SAVEPOINT inner_sp"); sqlstate(err) != "3B001" {
		t.Fatalf("ROLLBACK TO a released savepoint: %v, want 3B001", err)
	}
	run("ROLLBACK")
	check(map[int64]int64{a: 0, a2: 0, b: 0, b2: 0})
	story()
	run("COMMIT")
	check(map[int64]int64{a: 1, a2: 0, b: 0, b2: 4})
	waitNoPrepared(ctx, t, 0)
}

package crashtest

import (
	"strings"
	"testing"
	"time"

	"github.com/sqlrouter/sqlrouter/txn"
)

// Two routers share the clusters, each with a no-decision timeout of 1 ms
// and a recovery pass every 50 ms. A transaction of router B is held
// between its PREPAREs (s0 prepared, s1 held by a gate) for a second:
// neither A (B is alive) nor B itself (the transaction is in flight)
// resolves it, and once the gate opens it commits.
func TestLiveTransactionIsLeftToItsRouter(t *testing.T) {
	a, b := startTwoRouters(t, "live-a", "live-b")
	it := createItems(t, a)
	ctx := testContext(t, time.Minute)
	g := closeGate(t, "s1")
	done := gatedCommit(ctx, t, connectRouter(t, b), it.on["s0"][0], it.on["s1"][0])
	gid := preparedOf(ctx, t, "s0", "live-b", time.Second)
	if !isPrepared(ctx, t, "s0", gid) {
		t.Fatalf("%s was resolved while its router was committing it", gid)
	}
	g.open()
	if err := <-done; err != nil {
		t.Fatalf("COMMIT: %v", err)
	}
	if got := gatedValues(ctx, t); got["s0"] != 1 || got["s1"] != 1 {
		t.Errorf("committed rows by cluster %v, want one on each", got)
	}
	waitNoPrepared(ctx, t, 10*time.Second)
}

// A router dies between PREPAREs: s0 prepared, s1's PREPARE held by a
// gate, no decision. Once the gate opens, s1 prepares too, in the dead
// router's orphaned backend. Recovery rolls both back: the router itself
// after a restart with the same router_id, or another router once the
// dead one's lease has expired. The client, whose connection dropped
// during COMMIT, finds nothing committed.
func TestRouterKilledBeforeTheDecision(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restart bool
	}{
		{"restarted", true},
		{"replaced by another router", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "cp1-" + map[bool]string{true: "same", false: "gone"}[tc.restart]
			r := startRouter(t, routerOptions{ID: id})
			if !tc.restart {
				startRouter(t, routerOptions{ID: id + "-other"})
			}
			it := createItems(t, r)
			ctx := testContext(t, time.Minute)
			g := closeGate(t, "s1")
			done := gatedCommit(ctx, t, connectRouter(t, r), it.on["s0"][0], it.on["s1"][0])
			gid := preparedOf(ctx, t, "s0", id, 0)
			r.Kill()
			if err := <-done; err == nil {
				t.Fatal("COMMIT succeeded through a router that was killed before deciding")
			}
			g.open()
			if tc.restart {
				r.Start()
			}
			waitNoPrepared(ctx, t, 30*time.Second)
			if got := gatedValues(ctx, t); got["s0"] != 0 || got["s1"] != 0 {
				t.Errorf("rows of the undecided transaction committed: %v", got)
			}
			g0, _ := txn.ParseGID(gid)
			d, found, err := decisionLog().Lookup(ctx, g0.Txn)
			if err != nil || !found || d.Decision != txn.Abort {
				t.Errorf("decision of %s: %+v found=%v err=%v, want an abort", g0.Txn, d, found, err)
			}
		})
	}
}

// The s1 primary is killed while the router waits for its PREPARE (held
// by a gate; s0 already prepared). The router records the abort (s1's
// PREPARE might have got through), rolls s0 back, and COMMIT fails with
// 40000 naming s1; after s1's restart nothing of the transaction is
// committed or prepared anywhere.
func TestPrimaryKilledDuringPrepare(t *testing.T) {
	r := startRouter(t, routerOptions{ID: "kill-prep"})
	it := createItems(t, r)
	ctx := testContext(t, time.Minute)
	closeGate(t, "s1")
	done := gatedCommit(ctx, t, connectRouter(t, r), it.on["s0"][0], it.on["s1"][0])
	gid := preparedOf(ctx, t, "s0", "kill-prep", 0)
	s1 := dep.Clusters[1].Primary
	if err := s1.Kill(); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if sqlstate(err) != "40000" || !strings.Contains(err.Error(), "s1") {
		t.Errorf("COMMIT: %v, want 40000 naming s1", err)
	}
	if err := s1.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitNoPrepared(ctx, t, 10*time.Second)
	if got := gatedValues(ctx, t); got["s0"]+got["s1"] != 0 {
		t.Errorf("rows of a transaction whose COMMIT failed: %v", got)
	}
	g, _ := txn.ParseGID(gid)
	if d, found, err := decisionLog().Lookup(ctx, g.Txn); err != nil || !found || d.Decision != txn.Abort {
		t.Errorf("decision of %s: %+v found=%v err=%v, want an abort", g.Txn, d, found, err)
	}
}

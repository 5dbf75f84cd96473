package txn

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Crash point (d): two routers recover the same dead router's
// transactions at the same moment. Each prepared transaction ends exactly
// once, the right way, and neither pass reports an error.
func TestConcurrentRecoveriesFinishEachTransactionOnce(t *testing.T) {
	resetPrimaries(t)
	ctx := testContext(t)
	cli, prefix := testEtcd(t)
	deadLog := NewEtcdLog(cli, "r9", prefix+"txn/")
	conns := map[string]*pgParticipant{}
	for _, c := range []string{"s0", "s1"} {
		conns[c] = &pgParticipant{cluster: c, conn: connect(ctx, t, c)}
	}
	epoch := newEpoch()
	const n = 20
	wantCommitted, wantRolledBack := []string{}, []string{}
	for i := range n {
		txid := txnID("r9", epoch, uint64(i+1))
		for _, p := range conns {
			gid, _ := participantGID(txid, p.cluster)
			for _, q := range []string{"BEGIN", fmt.Sprintf("INSERT INTO txn_rows VALUES ('%s', '%s')", txid, p.cluster), "PREPARE TRANSACTION " + quote(gid)} {
				exec(ctx, t, p.conn, q)
			}
			if i%2 == 0 {
				wantCommitted = append(wantCommitted, gid)
			} else {
				wantRolledBack = append(wantRolledBack, gid)
			}
		}
		if i%2 == 0 {
			if err := deadLog.Record(ctx, txid, Commit, []string{"s0", "s1"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	time.Sleep(20 * time.Millisecond)

	registry := NewRegistry(cli, prefix+"routers/", nil)
	var mu sync.Mutex
	var committed, rolledBack []string
	var wg sync.WaitGroup
	for _, as := range []string{"r1", "r2"} {
		rec := NewRecovery(RecoveryOptions{RouterID: as, Log: NewEtcdLog(cli, as, prefix+"txn/"), Routers: registry,
			Primaries: primaries, NoDecisionTimeout: time.Millisecond})
		wg.Go(func() {
			for range 3 {
				rep, err := rec.RecoverOnce(ctx)
				if err != nil {
					t.Errorf("%s: %v", as, err)
				}
				for _, u := range rep.Left {
					if u.Reason != reasonBusy {
						t.Errorf("%s left %s: %s", as, u.GID, u.Reason)
					}
				}
				mu.Lock()
				committed = append(committed, rep.Committed...)
				rolledBack = append(rolledBack, rep.RolledBack...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	for _, x := range []struct {
		what      string
		got, want []string
	}{{"committed", committed, wantCommitted}, {"rolled back", rolledBack, wantRolledBack}} {
		slices.Sort(x.got)
		slices.Sort(x.want)
		if !slices.Equal(x.got, x.want) {
			t.Errorf("%s:\n%q\nwant each of\n%q\nonce", x.what, x.got, x.want)
		}
	}
	if left := preparedGIDs(ctx, t); len(left) > 0 {
		t.Errorf("still prepared: %v", left)
	}
	for _, p := range conns {
		rows := exec(ctx, t, p.conn, `SELECT count(*) FROM txn_rows`)
		if string(rows[0][0]) != fmt.Sprint(n/2) {
			t.Errorf("%s holds %s rows, want the %d committed", p.cluster, rows[0][0], n/2)
		}
	}
	decisions, err := deadLog.List(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range decisions {
		if d.Decision == Commit {
			t.Errorf("commit decision of %s not forgotten", d.Txn)
		}
	}
}

// Commits through a Coordinator with real participants and the etcd log,
// while recoveries of this router and of another live router run all the
// time with a no-decision timeout of 1 ms: nothing of a transaction in
// flight is touched, and every commit succeeds.
func TestRecoveryLeavesTransactionsInFlightAlone(t *testing.T) {
	resetPrimaries(t)
	ctx := testContext(t)
	cli, prefix := testEtcd(t)
	registry := NewRegistry(cli, prefix+"routers/", nil)
	reg := registry.Register("r1", 0)
	defer reg.Close(context.Background())
	if err := reg.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	logs := []*EtcdLog{NewEtcdLog(cli, "r1", prefix+"txn/")}
	coord := NewCoordinator("r1", logs[0], nil)

	stop := make(chan struct{})
	var recoveries sync.WaitGroup
	var mu sync.Mutex
	reasons := map[string]int{}
	for _, o := range []struct {
		as       string
		inFlight func(string) bool
	}{{"r1", coord.InFlight}, {"r2", nil}} {
		logs = append(logs, NewEtcdLog(cli, o.as, prefix+"txn/"))
		rec := NewRecovery(RecoveryOptions{RouterID: o.as, Log: logs[len(logs)-1], Routers: registry,
			InFlight: o.inFlight, Primaries: primaries, NoDecisionTimeout: time.Millisecond})
		recoveries.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				rep, err := rec.RecoverOnce(ctx)
				if err != nil {
					t.Errorf("recovery as %s: %v", o.as, err)
				}
				if len(rep.Committed)+len(rep.RolledBack) > 0 {
					t.Errorf("recovery as %s finished transactions in flight: committed %q, rolled back %q", o.as, rep.Committed, rep.RolledBack)
				}
				mu.Lock()
				for _, u := range rep.Left {
					reasons[o.as+": "+u.Reason]++
				}
				mu.Unlock()
			}
		})
	}

	const workers, perWorker = 6, 25
	var clients sync.WaitGroup
	for w := range workers {
		clients.Go(func() {
			ps := []Participant{&pgParticipant{cluster: "s0", conn: connect(ctx, t, "s0")}, &pgParticipant{cluster: "s1", conn: connect(ctx, t, "s1")}}
			for i := range perWorker {
				for _, p := range ps {
					sql := fmt.Sprintf("BEGIN; INSERT INTO txn_rows VALUES ('w%d-%d', '%s')", w, i, p.Cluster())
					if err := p.Exec(ctx, sql); err != nil {
						t.Error(err)
						return
					}
				}
				if err := coord.Commit(ctx, ps); err != nil {
					t.Errorf("commit w%d-%d: %v", w, i, err)
				}
			}
		})
	}
	clients.Wait()
	close(stop)
	recoveries.Wait()

	for _, c := range []string{"s0", "s1"} {
		rows := exec(ctx, t, connect(ctx, t, c), `SELECT count(*) FROM txn_rows`)
		if string(rows[0][0]) != fmt.Sprint(workers*perWorker) {
			t.Errorf("%s holds %s rows, want %d", c, rows[0][0], workers*perWorker)
		}
	}
	if left := preparedGIDs(ctx, t); len(left) > 0 {
		t.Errorf("still prepared: %v", left)
	}
	for _, l := range logs {
		if err := l.Flush(ctx); err != nil {
			t.Error(err)
		}
	}
	if decisions, err := logs[0].List(ctx, 0); err != nil || len(decisions) > 0 {
		t.Errorf("decisions left: %v, %v", decisions, err)
	}
	// The test proves something only if the recoveries met transactions
	// in flight.
	t.Logf("recoveries left transactions: %v", reasons)
	if reasons["r1: "+reasonInFlight] == 0 || reasons["r2: "+reasonOwnerAlive] == 0 {
		t.Errorf("the recoveries never saw a transaction in flight: %v", reasons)
	}
	for r := range reasons {
		if !strings.HasSuffix(r, reasonInFlight) && !strings.HasSuffix(r, reasonOwnerAlive) && !strings.HasSuffix(r, reasonBusy) {
			t.Errorf("unexpected: %s", r)
		}
	}
}

// Run makes a pass at start, then every Interval, and returns when its
// context ends.
func TestRunRecoversAtStartAndPeriodically(t *testing.T) {
	resetPrimaries(t)
	ctx := testContext(t)
	cli, prefix := testEtcd(t)
	log := NewEtcdLog(cli, "r1", prefix+"txn/")
	conn := connect(ctx, t, "s0")
	prepare := func(seq uint64) {
		txid := txnID("r1", "old", seq)
		for _, q := range []string{"BEGIN", "INSERT INTO txn_rows VALUES ('x', 's0')", "PREPARE TRANSACTION " + quote(txid+".s0")} {
			exec(ctx, t, conn, q)
		}
		if err := log.Record(ctx, txid, Commit, []string{"s0"}); err != nil {
			t.Fatal(err)
		}
	}
	waitNonePrepared := func() {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); len(preparedGIDs(ctx, t)) > 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("still prepared: %v", preparedGIDs(ctx, t))
			}
		}
	}
	prepare(1)
	rec := NewRecovery(RecoveryOptions{RouterID: "r1", Log: log, Primaries: primaries, Interval: 50 * time.Millisecond})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rec.Run(runCtx) }()
	waitNonePrepared()
	prepare(2)
	waitNonePrepared()
	stop()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	rows := exec(ctx, t, conn, `SELECT count(*) FROM txn_rows`)
	if string(rows[0][0]) != "2" {
		t.Errorf("%s rows, want 2", rows[0][0])
	}
}

package txn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestEtcdLogWritesEachDecisionOnce(t *testing.T) {
	ctx := testContext(t)
	cli, prefix := testEtcd(t)
	log := NewEtcdLog(cli, "r1", prefix+"txn/")
	const tx = "sqlr_r1.e.1"
	if err := log.Record(ctx, tx, Commit, []string{"s0", "s1"}); err != nil {
		t.Fatal(err)
	}
	// A retry of the same decision succeeds; the other one conflicts.
	if err := log.Record(ctx, tx, Commit, []string{"s0", "s1"}); err != nil {
		t.Errorf("recording the same decision again: %v", err)
	}
	if err := NewEtcdLog(cli, "r2", prefix+"txn/").Record(ctx, tx, Abort, []string{"s0"}); !errors.Is(err, ErrDecisionConflict) {
		t.Errorf("recording abort over commit: %v, want ErrDecisionConflict", err)
	}
	d, found, err := log.Lookup(ctx, tx)
	if err != nil || !found || d.Txn != tx || d.Decision != Commit || !slices.Equal(d.Clusters, []string{"s0", "s1"}) || d.Router != "r1" || time.Since(d.Time) > time.Minute {
		t.Errorf("Lookup = %+v, %v, %v", d, found, err)
	}

	// List skips what is not a decision, and decisions younger than asked.
	cli.Put(ctx, prefix+"txn/garbage", "{")
	all, err := log.List(ctx, 0)
	if err != nil || len(all) != 1 || all[0].Txn != tx {
		t.Errorf("List(0) = %+v, %v", all, err)
	}
	if old, err := log.List(ctx, time.Hour); err != nil || len(old) != 0 {
		t.Errorf("List(1h) = %+v, %v", old, err)
	}

	if err := log.Forget(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if err := log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, found, err := log.Lookup(ctx, tx); found || err != nil {
		t.Errorf("Lookup after Forget: found %v, %v", found, err)
	}
}

// Forgotten decisions are deleted in batches; more than one etcd
// transaction holds: every one of them goes.
func TestEtcdLogForgetsManyInBatches(t *testing.T) {
	ctx := testContext(t)
	cli, prefix := testEtcd(t)
	log := NewEtcdLog(cli, "r1", prefix+"txn/")
	const n = 2*forgetBatch + 7
	for i := range n {
		if err := log.Record(ctx, fmt.Sprintf("t%d", i), Commit, []string{"s0", "s1"}); err != nil {
			t.Fatal(err)
		}
	}
	if all, err := log.List(ctx, 0); err != nil || len(all) != n {
		t.Fatalf("List = %d decisions, %v; want %d", len(all), err, n)
	}
	for i := range n {
		log.Forget(ctx, fmt.Sprintf("t%d", i))
	}
	if err := log.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if all, err := log.List(ctx, 0); err != nil || len(all) != 0 {
		t.Errorf("after Forget and Flush: %d decisions left, %v", len(all), err)
	}
}

func TestRegistryKeepsTheRouterRegistered(t *testing.T) {
	ctx := testContext(t)
	cli, prefix := testEtcd(t)
	reg := NewRegistry(cli, prefix+"routers/", nil)
	live := func() map[string]bool {
		t.Helper()
		m, err := reg.LiveRouters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	waitLive := func(want bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); live()["r1"] != want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("r1 live = %v after 10 s, want %v", !want, want)
			}
		}
	}

	first := reg.Register("r1", 2*time.Second)
	if err := first.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if !live()["r1"] || live()["r2"] {
		t.Fatalf("live routers %v, want r1", live())
	}

	// A lost lease (etcd expired it) is replaced by a new one.
	lost := first.Lease()
	if _, err := cli.Revoke(ctx, lost); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); first.Lease() == lost || !live()["r1"]; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the registration was not renewed after its lease was lost")
		}
	}

	// A restarted router takes the id over; the old registration's end
	// does not remove it.
	second := reg.Register("r1", 2*time.Second)
	if err := second.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !live()["r1"] {
		t.Fatal("closing the replaced registration unregistered the router")
	}
	if err := second.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitLive(false)
}

// Decisions recorded concurrently share etcd transactions, and a decision
// that conflicts with one already written fails alone.
func TestEtcdLogGroupCommit(t *testing.T) {
	ctx := testContext(t)
	cli, prefix := testEtcd(t)
	log := NewEtcdLog(cli, "r1", prefix+"txn/")
	if err := log.Record(ctx, "t7", Abort, []string{"s0"}); err != nil {
		t.Fatal(err)
	}
	before := log.record.txns.Load()
	const n = 300
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = log.Record(ctx, fmt.Sprintf("t%d", i), Commit, []string{"s0", "s1"}) })
	}
	wg.Wait()
	for i, err := range errs {
		if i == 7 {
			if !errors.Is(err, ErrDecisionConflict) {
				t.Errorf("t7, decided abort before: Record(commit) = %v, want a conflict", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("t%d: %v", i, err)
		}
	}
	all, err := log.List(ctx, 0)
	if err != nil || len(all) != n {
		t.Fatalf("List = %d decisions, %v; want %d", len(all), err, n)
	}
	for _, d := range all {
		if want := map[bool]Decision{true: Abort, false: Commit}[d.Txn == "t7"]; d.Decision != want {
			t.Errorf("%s: %s, want %s", d.Txn, d.Decision, want)
		}
	}
	if txns := log.record.txns.Load() - before; txns >= n {
		t.Errorf("%d etcd transactions for %d concurrent decisions: no group commit", txns, n)
	} else {
		t.Logf("%d decisions in %d etcd transactions", n, txns)
	}
}

// BenchmarkRecordParallel records decisions from many goroutines at once,
// as concurrent distributed commits do, batched (Record) and each in its
// own etcd transaction; ns/op is per decision.
func BenchmarkRecordParallel(b *testing.B) {
	ctx := context.Background()
	cli, prefix := testEtcd(b)
	log := NewEtcdLog(cli, "r1", prefix+"txn/")
	var next atomic.Int64
	for name, record := range map[string]func(key string) error{
		"batched": func(key string) error { return log.Record(ctx, key, Commit, []string{"s0", "s1"}) },
		"one-by-one": func(key string) error {
			return log.recordOne(ctx, log.prefix+key, `{"decision":"commit","clusters":["s0","s1"],"router":"r1","time":"2026-01-02T03:04:05Z"}`, Commit)
		},
	} {
		b.Run(name, func(b *testing.B) {
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := record(fmt.Sprintf("t%d", next.Add(1))); err != nil {
						b.Error(err)
					}
				}
			})
		})
	}
}

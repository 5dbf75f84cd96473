package replication

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// fakeCluster is s0 with primary p0 and replicas r1, r2, as URLs.
const (
	fakeP0 = "postgres://p0/app"
	fakeR1 = "postgres://r1/app"
	fakeR2 = "postgres://r2/app"
)

func fakeNodes() []Node {
	return []Node{
		{Cluster: "s0", URL: fakeP0, Primary: true},
		{Cluster: "s0", URL: fakeR1, Weight: 1},
		{Cluster: "s0", URL: fakeR2, Weight: 1},
	}
}

// startFake runs a Tracker over fake servers until the test ends, and
// checks at the end that Run returned and left no goroutine behind.
func startFake(t *testing.T, opts Options, net *fakeNet, nodes []Node) *Tracker {
	t.Helper()
	before := runtime.NumGoroutine()
	if opts.Logger == nil {
		opts.Logger = discardLogger()
	}
	tr := NewTracker(opts)
	net.install(tr)
	tr.SetNodes(nodes)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		waitGoroutines(t, before)
	})
	return tr
}

// waitGoroutines fails the test unless the number of goroutines falls back
// to at most n within a few seconds.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor polls cond until it holds or ten seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nodeStatus returns the status of the node with url.
func nodeStatus(tr *Tracker, url string) NodeStatus {
	for _, s := range tr.Status() {
		if s.URL == url {
			return s
		}
	}
	return NodeStatus{}
}

func allHealthy(tr *Tracker) func() bool {
	return func() bool {
		for _, s := range tr.Status() {
			if !s.Healthy {
				return false
			}
		}
		return true
	}
}

func probes(net *fakeNet, url string) (n int) {
	net.get(url, func(fn *fakeNode) { n = fn.probes })
	return n
}

func TestChooseCachedMakesNoQuery(t *testing.T) {
	net := newFakeNet()
	for _, u := range []string{fakeP0, fakeR1, fakeR2} {
		net.set(u, func(n *fakeNode) { n.lsn = 0x5000 })
	}
	tr := startFake(t, Options{PollInterval: time.Hour}, net, fakeNodes())
	waitFor(t, "the first checks", allHealthy(tr))
	before := probes(net, fakeR1) + probes(net, fakeR2) + probes(net, fakeP0)
	for range 100 {
		ch, err := tr.Choose(t.Context(), "s0", Requirement{MinLSN: 0x5000})
		if err != nil || ch.Node.Primary || ch.Fallback || ch.Waited != 0 {
			t.Fatalf("Choose = %+v, %v", ch, err)
		}
	}
	if after := probes(net, fakeR1) + probes(net, fakeR2) + probes(net, fakeP0); after != before {
		t.Errorf("satisfied ryw reads made %d checks, want none", after-before)
	}
}

func TestChooseRefreshesOnDemand(t *testing.T) {
	net := newFakeNet()
	net.set(fakeP0, func(n *fakeNode) { n.lsn = 0x9000 })
	net.set(fakeR1, func(n *fakeNode) { n.lsn = 0x5000 })
	// r2 replays the write by its fourth check: the first periodic one and
	// three on demand.
	net.set(fakeR2, func(n *fakeNode) { n.lsn, n.catchUpAt, n.catchUpLSN = 0x5000, 4, 0x9000 })
	tr := startFake(t, Options{PollInterval: time.Hour}, net, fakeNodes())
	waitFor(t, "the first checks", allHealthy(tr))

	ch, err := tr.Choose(t.Context(), "s0", Requirement{MinLSN: 0x9000, Wait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Node.URL != fakeR2 || ch.Fallback || ch.Waited == 0 {
		t.Errorf("Choose = %+v, want r2 after a wait", ch)
	}
	if n := probes(net, fakeR2); n != 4 {
		t.Errorf("r2 was checked %d times, want 4", n)
	}
	if n := probes(net, fakeP0); n != 1 {
		t.Errorf("the primary was checked %d times, want 1 (only replicas are refreshed)", n)
	}
}

func TestChooseRefreshCoalesces(t *testing.T) {
	net := newFakeNet()
	net.set(fakeP0, func(n *fakeNode) { n.lsn = 0x9000 })
	for _, u := range []string{fakeR1, fakeR2} {
		net.set(u, func(n *fakeNode) { n.lsn, n.catchUpAt, n.catchUpLSN, n.delay = 0x5000, 6, 0x9000, 2*time.Millisecond })
	}
	tr := startFake(t, Options{PollInterval: time.Hour}, net, fakeNodes())
	waitFor(t, "the first checks", allHealthy(tr))

	const readers = 50
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for range readers {
		wg.Go(func() {
			ch, err := tr.Choose(t.Context(), "s0", Requirement{MinLSN: 0x9000, Wait: 10 * time.Second})
			if err == nil && (ch.Node.Primary || ch.Fallback) {
				err = errors.New("fell back to the primary")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{fakeR1, fakeR2} {
		net.get(u, func(n *fakeNode) {
			if n.maxInFlight != 1 {
				t.Errorf("%s had %d checks in flight at once, want 1", u, n.maxInFlight)
			}
			// Fifty waiting reads shared the checks: the node caught up at
			// its sixth, and at most one more was asked meanwhile.
			if n.probes > 7 {
				t.Errorf("%s was checked %d times for %d waiting reads", u, n.probes, readers)
			}
		})
	}
}

func TestChooseWaitsThenFallsBack(t *testing.T) {
	net := newFakeNet()
	for _, u := range []string{fakeP0, fakeR1, fakeR2} {
		net.set(u, func(n *fakeNode) { n.lsn = 0x5000 })
	}
	tr := startFake(t, Options{PollInterval: time.Hour}, net, fakeNodes())
	waitFor(t, "the first checks", allHealthy(tr))

	req := Requirement{MinLSN: 0x9000, Wait: 30 * time.Millisecond, AllowPrimary: true}
	ch, err := tr.Choose(t.Context(), "s0", req)
	if err != nil || !ch.Fallback || ch.Node.URL != fakeP0 || ch.Waited < req.Wait {
		t.Errorf("Choose = %+v, %v; want the primary as a fallback after waiting %s", ch, err, req.Wait)
	}
	if probes(net, fakeR1) < 2 || probes(net, fakeR2) < 2 {
		t.Errorf("the replicas were not asked again while waiting")
	}

	req.AllowPrimary = false
	ch, err = tr.Choose(t.Context(), "s0", req)
	if !errors.Is(err, ErrNoEligibleNode) || ch.Waited < req.Wait {
		t.Errorf("Choose without the primary = %+v, %v; want ErrNoEligibleNode after waiting", ch, err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req.Wait = time.Hour
	if _, err := tr.Choose(ctx, "s0", req); !errors.Is(err, context.Canceled) {
		t.Errorf("Choose with a cancelled context: %v", err)
	}

	// A negative Wait does not wait at all.
	req.Wait, req.AllowPrimary = -1, true
	before := probes(net, fakeR1)
	if ch, err := tr.Choose(t.Context(), "s0", req); err != nil || !ch.Fallback || ch.Waited != 0 {
		t.Errorf("Choose with Wait < 0 = %+v, %v", ch, err)
	}
	if probes(net, fakeR1) != before {
		t.Errorf("Choose with Wait < 0 asked the replicas")
	}
}

func TestPrimaryLSNReadsAfterTheCall(t *testing.T) {
	net := newFakeNet()
	net.set(fakeP0, func(n *fakeNode) { n.lsn = 0x100 })
	tr := startFake(t, Options{PollInterval: time.Hour}, net, fakeNodes()[:1])
	waitFor(t, "the first check", allHealthy(tr))

	lsn, err := tr.PrimaryLSN(t.Context(), "s0")
	if err != nil || lsn != 0x100 {
		t.Fatalf("PrimaryLSN = %s, %v", lsn, err)
	}
	// A check is in flight, started before the next call: its answer
	// could predate the caller's commit, so PrimaryLSN must not use it.
	gate := make(chan struct{})
	var inFlight int
	net.set(fakeP0, func(n *fakeNode) { n.gate, inFlight = gate, n.probes+1 })
	tr.top.Load().byURL[fakeP0].requestCheck()
	for num := range fakeStarted(net, fakeP0) {
		if num == inFlight {
			break
		}
	}
	net.set(fakeP0, func(n *fakeNode) { n.lsn, n.gate = 0x200, nil }) // the commit
	result := make(chan LSN, 1)
	go func() {
		lsn, err := tr.PrimaryLSN(t.Context(), "s0")
		if err != nil {
			t.Error(err)
		}
		result <- lsn
	}()
	// Let the old check answer with the old position, as it started before.
	time.Sleep(10 * time.Millisecond)
	close(gate)
	if got := <-result; got != 0x200 {
		t.Errorf("PrimaryLSN = %s, want 0/200 (from a check started after the call)", got)
	}

	net.set(fakeP0, func(n *fakeNode) { n.err = errors.New("connection refused") })
	if _, err := tr.PrimaryLSN(t.Context(), "s0"); err == nil {
		t.Error("PrimaryLSN succeeded while the primary fails")
	}
	if _, err := tr.PrimaryLSN(t.Context(), "s9"); !errors.Is(err, ErrUnknownCluster) {
		t.Errorf("PrimaryLSN(s9): %v", err)
	}
}

// fakeStarted returns the channel of probe numbers of a fake node.
func fakeStarted(net *fakeNet, url string) chan int {
	var ch chan int
	net.get(url, func(n *fakeNode) { ch = n.started })
	return ch
}

func TestRunEjectsAndReadmits(t *testing.T) {
	net := newFakeNet()
	for _, u := range []string{fakeP0, fakeR1, fakeR2} {
		net.set(u, func(n *fakeNode) { n.lsn = 0x5000 })
	}
	tr := startFake(t, Options{PollInterval: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, FailThreshold: 3}, net, fakeNodes())
	waitFor(t, "the first checks", allHealthy(tr))

	net.set(fakeR1, func(n *fakeNode) { n.err = errors.New("connection refused") })
	waitFor(t, "r1 ejected", func() bool { return !nodeStatus(tr, fakeR1).Healthy })
	if s := nodeStatus(tr, fakeR1); s.Failures < 3 || s.LastError == nil {
		t.Errorf("r1 ejected with status %+v", s)
	}
	for range 10 {
		ch, err := tr.Choose(t.Context(), "s0", Requirement{Level: Eventual})
		if err != nil || ch.Node.URL != fakeR2 {
			t.Fatalf("Choose with r1 ejected = %+v, %v", ch, err)
		}
	}
	net.set(fakeR1, func(n *fakeNode) { n.err = nil })
	waitFor(t, "r1 re-admitted", func() bool { return nodeStatus(tr, fakeR1).Healthy })

	// A caller's report and a failing confirmation check eject at once.
	net.set(fakeR2, func(n *fakeNode) { n.err = errors.New("connection reset") })
	for range 2 {
		tr.MarkFailed(fakeR2, errors.New("broken pipe"))
	}
	waitFor(t, "r2 ejected", func() bool { return !nodeStatus(tr, fakeR2).Healthy })
}

func TestRunFollowsSetNodes(t *testing.T) {
	net := newFakeNet()
	for _, u := range []string{fakeP0, fakeR1, fakeR2} {
		net.set(u, func(n *fakeNode) { n.lsn = 0x5000 })
	}
	tr := startFake(t, Options{PollInterval: time.Hour}, net, fakeNodes()[:2])
	waitFor(t, "the first checks", allHealthy(tr))
	release := tr.Acquire(fakeR1)
	defer release()

	tr.SetNodes(fakeNodes()) // r2 joins
	waitFor(t, "r2 checked", func() bool { return nodeStatus(tr, fakeR2).Healthy })
	if s := nodeStatus(tr, fakeR1); !s.Healthy || s.InFlight != 1 {
		t.Errorf("r1 lost its state across SetNodes: %+v", s)
	}
	net.get(fakeR1, func(n *fakeNode) {
		if n.probers != 1 || n.probes != 1 {
			t.Errorf("r1 staying got %d probers and %d checks, want 1 and 1", n.probers, n.probes)
		}
	})

	tr.SetNodes([]Node{fakeNodes()[0], fakeNodes()[2]}) // r1 leaves
	waitFor(t, "r1's connection closed", func() bool {
		closed := false
		net.get(fakeR1, func(n *fakeNode) { closed = n.closes == 1 })
		return closed
	})
	if ch, err := tr.Choose(t.Context(), "s0", Requirement{Level: Eventual}); err != nil || ch.Node.URL != fakeR2 {
		t.Errorf("Choose after r1 left = %+v, %v", ch, err)
	}
}

func TestRunOnceAndStop(t *testing.T) {
	before := runtime.NumGoroutine()
	net := newFakeNet()
	tr := NewTracker(Options{PollInterval: time.Millisecond, Logger: discardLogger()})
	net.install(tr)
	tr.SetNodes(fakeNodes())
	if _, err := tr.PrimaryLSN(t.Context(), "s0"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("PrimaryLSN before Run: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	waitFor(t, "checks", func() bool { return probes(net, fakeR2) > 3 })
	if err := tr.Run(ctx); err == nil {
		t.Error("a second Run started")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v", err)
	}
	waitGoroutines(t, before)
	for _, u := range []string{fakeP0, fakeR1, fakeR2} {
		net.get(u, func(n *fakeNode) {
			if n.closes != n.probers {
				t.Errorf("%s: %d probers, %d closed", u, n.probers, n.closes)
			}
		})
	}
	if _, err := tr.PrimaryLSN(t.Context(), "s0"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("PrimaryLSN after Run: %v", err)
	}
}

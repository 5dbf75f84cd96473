package replication

import (
	"context"
	"errors"
	"sync"
	"time"
)

// refreshGap is the least time between the starts of two checks of one
// node, so that reads waiting for a replica poll it quickly without
// flooding it.
const refreshGap = time.Millisecond

// errRunTwice is returned by a second call of Run.
var errRunTwice = errors.New("replication: Tracker.Run called twice")

// Run checks every node until ctx is done, then stops its goroutines,
// closes its connections and returns nil. Call it once, in its own
// goroutine. Each node gets one worker with one monitoring connection: it
// checks the node every PollInterval (at once when the node is added, and
// on demand for Choose and PrimaryLSN), reconnects after failures, and
// waits longer and longer (up to MaxBackoff) between checks of an ejected
// node.
func (t *Tracker) Run(ctx context.Context) error {
	first := false
	t.runOnce.Do(func() { first = true })
	if !first {
		return errRunTwice
	}
	t.running.Store(true)
	workers := map[*nodeState]context.CancelFunc{}
	var wg sync.WaitGroup
	defer func() {
		t.running.Store(false)
		for _, cancel := range workers {
			cancel()
		}
		wg.Wait()
		close(t.runDone)
	}()
	for {
		top := t.top.Load()
		live := make(map[*nodeState]bool, len(top.members))
		for _, m := range top.members {
			live[m.st] = true
			if _, ok := workers[m.st]; ok {
				continue
			}
			wctx, cancel := context.WithCancel(ctx)
			workers[m.st] = cancel
			p := t.newProber(m.Node)
			wg.Go(func() { t.work(wctx, m.st, p) })
		}
		for st, cancel := range workers {
			if !live[st] {
				cancel()
				delete(workers, st)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.changed:
		}
	}
}

// work is the worker of one node: it runs the node's checks until ctx is
// done.
func (t *Tracker) work(ctx context.Context, st *nodeState, p prober) {
	defer close(st.stopped)
	defer p.close()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastStart time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-st.wake:
			if gap := refreshGap - time.Since(lastStart); gap > 0 && !sleep(ctx, gap) {
				return
			}
		}
		lastStart = time.Now()
		seq := st.beginCheck()
		cctx, cancel := context.WithTimeout(ctx, t.opts.CheckTimeout)
		obs, err := p.probe(cctx)
		cancel()
		if ctx.Err() != nil {
			return // stopping: not the node's failure
		}
		t.record(st, seq, obs, err)
		timer.Reset(t.nextCheck(st))
	}
}

// nextCheck is the delay before the node's next periodic check: the poll
// interval, doubling from there once the node has failed FailThreshold
// checks in a row, up to MaxBackoff.
func (t *Tracker) nextCheck(st *nodeState) time.Duration {
	st.mu.Lock()
	failures := st.failures
	st.mu.Unlock()
	d := t.opts.PollInterval
	for i := t.opts.FailThreshold; i <= failures && d < t.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, max(t.opts.MaxBackoff, t.opts.PollInterval))
}

// sleep waits for d or until ctx is done, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

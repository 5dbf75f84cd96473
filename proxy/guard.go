package proxy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/pgerror"
)

// watchDelay is how long a request runs before its client's socket is
// watched for a hang-up: short requests never pay for the watch.
const watchDelay = 50 * time.Millisecond

// recancelInterval is how often a request whose client went away is
// cancelled again while it keeps running (it may reach new backends).
const recancelInterval = time.Second

// guard watches the request a session runs (from a Query, or the first
// message of an extended-protocol batch, to its ReadyForQuery). It cancels
// the request on every backend through executor.Session.Cancel when it
// runs longer than limits.max_statement_time, or when the client hangs up
// while it runs (a killed client must not leave its statements waiting on
// locks). Cancels end before the next request starts.
type guard struct {
	cs *clientSession

	mu       sync.Mutex
	running  bool
	deadline time.Time // when max time expires (zero: no limit)
	watchAt  time.Time // when the watcher starts (zero: started or never)
	// timer fires at the earlier of deadline and watchAt (one timer, reset
	// per request: the cheapest way to time both).
	timer *time.Timer
	// stopWatch is closed to stop the watcher; watchDone when it ended.
	stopWatch, watchDone chan struct{}
	cancels              sync.WaitGroup // cancels in flight

	// timedOut is set once max time cancelled the current request.
	timedOut atomic.Bool
}

// begin starts watching a request.
func (g *guard) begin() {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running = true
	g.timedOut.Store(false)
	g.deadline, g.watchAt = time.Time{}, time.Time{}
	if max := g.cs.srv.cfg.MaxStatementTime; max > 0 {
		g.deadline = now.Add(max)
	}
	if canWatch {
		g.watchAt = now.Add(watchDelay)
	}
	g.arm(now)
}

// arm sets the timer for the next event of the request, if any; g.mu is
// held.
func (g *guard) arm(now time.Time) {
	next := g.watchAt
	if next.IsZero() || (!g.deadline.IsZero() && g.deadline.Before(next)) {
		next = g.deadline
	}
	if next.IsZero() {
		return
	}
	if g.timer == nil {
		g.timer = time.AfterFunc(next.Sub(now), g.fire)
	} else {
		g.timer.Reset(next.Sub(now))
	}
}

// end stops watching the request, and waits for the watcher and for the
// cancels it started, so that none reaches the next request.
func (g *guard) end() {
	g.mu.Lock()
	if !g.running {
		g.mu.Unlock()
		return
	}
	g.running = false
	if g.timer != nil {
		g.timer.Stop()
	}
	stop, done := g.stopWatch, g.watchDone
	g.stopWatch, g.watchDone = nil, nil
	g.mu.Unlock()
	if stop != nil {
		close(stop)
		unblockWait(g.cs.nc)
		<-done
		g.cs.nc.SetReadDeadline(time.Time{})
	}
	g.cancels.Wait()
}

// fire runs when the timer fires: it starts the watcher when its time has
// come, cancels the request when max time has passed, and sets the timer
// for what remains. A timer of an earlier request finds nothing due.
func (g *guard) fire() {
	now := time.Now()
	g.mu.Lock()
	if !g.running {
		g.mu.Unlock()
		return
	}
	if !g.watchAt.IsZero() && !now.Before(g.watchAt) {
		g.watchAt = time.Time{}
		g.stopWatch, g.watchDone = make(chan struct{}), make(chan struct{})
		go g.watchClient(g.stopWatch, g.watchDone)
	}
	expired := !g.deadline.IsZero() && !now.Before(g.deadline)
	if expired {
		g.deadline = time.Time{}
		g.timedOut.Store(true)
		g.cancels.Add(1)
	}
	g.arm(now)
	g.mu.Unlock()
	if expired {
		defer g.cancels.Done()
		g.cs.srv.stats.TimedOut.Add(1)
		g.cs.log.Info("statement cancelled: it ran past limits.max_statement_time", "max", g.cs.srv.cfg.MaxStatementTime)
		g.cancel()
	}
}

// cancel cancels the request on every backend of the session.
func (g *guard) cancel() {
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	g.cs.exec.Cancel(ctx)
}

// watchClient waits for the client to hang up while the request runs,
// and then cancels the request, again every recancelInterval until it
// ends. It returns when stop is closed, or when the client sends more
// (it is alive).
func (g *guard) watchClient(stop, done chan struct{}) {
	defer close(done)
	if !waitHangUp(g.cs.nc) {
		return
	}
	g.cs.srv.stats.Abandoned.Add(1)
	g.cs.log.Info("client went away during a statement; cancelling it")
	for {
		g.cancel()
		select {
		case <-stop:
			return
		case <-time.After(recancelInterval):
		}
	}
}

// timeoutMessage is the message of a request stopped by max time.
func (g *guard) timeoutMessage() string {
	return "canceling statement due to the router's statement time limit (limits.max_statement_time = " + g.cs.srv.cfg.MaxStatementTime.String() + ")"
}

// rewriteTimeout makes the cancel error of a request stopped by max time
// say so (the servers only know a cancel request came).
func (g *guard) rewriteTimeout(body []byte) []byte {
	if !g.timedOut.Load() || backend.ErrorCode(body) != pgerror.QueryCanceled {
		return body
	}
	var msg pgproto3.ErrorResponse
	if err := msg.Decode(body); err != nil {
		return body
	}
	msg.Message = g.timeoutMessage()
	buf, err := msg.Encode(nil)
	if err != nil {
		return body
	}
	return buf[5:]
}

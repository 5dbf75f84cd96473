package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sqlrouter/sqlrouter/localdeploy"
)

// liveCluster is the deployment's cluster as the tests use it.
type liveCluster struct {
	primary, r1, r2 *localdeploy.Node
	urls            [3]string // primary, r1, r2
}

func theCluster(t *testing.T) liveCluster {
	t.Helper()
	c := dep.Cluster("s0")
	if c == nil || len(c.Replicas) != 2 {
		t.Fatal("the deployment has no cluster s0 with two replicas")
	}
	lc := liveCluster{primary: c.Primary, r1: c.Replicas[0], r2: c.Replicas[1]}
	lc.urls = [3]string{c.Primary.DSN("app"), c.Replicas[0].DSN("app"), c.Replicas[1].DSN("app")}
	return lc
}

func (lc liveCluster) nodes() []Node {
	return []Node{
		{Cluster: "s0", URL: lc.urls[0], Primary: true},
		{Cluster: "s0", URL: lc.urls[1], Weight: 1},
		{Cluster: "s0", URL: lc.urls[2], Weight: 1},
	}
}

// name labels a node URL in messages.
func (lc liveCluster) name(url string) string {
	for i, n := range []string{"primary", "r1", "r2"} {
		if lc.urls[i] == url {
			return n
		}
	}
	return url
}

// startLive runs a Tracker over the real cluster until the test ends, once
// every node has been checked, and checks at the end that Run stopped
// everything it started.
func startLive(t *testing.T, lc liveCluster) *Tracker {
	t.Helper()
	return startLiveLogged(t, lc, discardLogger())
}

// startLiveLogged is startLive with a logger.
func startLiveLogged(t *testing.T, lc liveCluster, logger *slog.Logger) *Tracker {
	t.Helper()
	before := runtime.NumGoroutine()
	tr := NewTracker(Options{
		PollInterval:  50 * time.Millisecond,
		MaxBackoff:    200 * time.Millisecond,
		FailThreshold: 2,
		Logger:        logger,
	})
	tr.SetNodes(lc.nodes())
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
	waitFor(t, "every node checked", allHealthy(tr))
	return tr
}

// exec runs sql on the server at url and returns the first value of the
// first row ("" when there is none).
func exec(t *testing.T, url, sql string) string {
	t.Helper()
	// Not t.Context(): cleanups run SQL too.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	results, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	last := results[len(results)-1]
	if len(last.Rows) == 0 || len(last.Rows[0]) == 0 {
		return ""
	}
	return string(last.Rows[0][0])
}

// write commits a row on the primary and returns pg_current_wal_lsn()
// read right after, on the same connection.
func write(t *testing.T, lc liveCluster) LSN {
	t.Helper()
	exec(t, lc.urls[0], "CREATE TABLE IF NOT EXISTS replication_live (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
	s := exec(t, lc.urls[0], "INSERT INTO replication_live DEFAULT VALUES; SELECT pg_current_wal_lsn()")
	lsn, err := ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return lsn
}

// pauseReplay pauses WAL replay on a replica, waits until it has paused,
// and resumes it when the test ends.
func pauseReplay(t *testing.T, url string) {
	t.Helper()
	exec(t, url, "SELECT pg_wal_replay_pause()")
	t.Cleanup(func() { resumeReplay(t, url) })
	waitFor(t, "replay paused", func() bool { return exec(t, url, "SELECT pg_get_wal_replay_pause_state()") == "paused" })
}

func resumeReplay(t *testing.T, url string) {
	exec(t, url, "SELECT pg_wal_replay_resume()")
}

// choices runs Choose n times and returns how often each node served.
func choices(t *testing.T, tr *Tracker, lc liveCluster, n int, req Requirement) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for range n {
		ch, err := tr.Choose(t.Context(), "s0", req)
		if err != nil {
			t.Fatalf("Choose(%+v): %v", req, err)
		}
		name := lc.name(ch.Node.URL)
		if ch.Fallback {
			name += " (fallback)"
		}
		counts[name]++
	}
	return counts
}

func TestLivePositions(t *testing.T) {
	lc := theCluster(t)
	tr := startLive(t, lc)
	committed := write(t, lc)
	lsn, err := tr.PrimaryLSN(t.Context(), "s0")
	if err != nil {
		t.Fatal(err)
	}
	if lsn < committed {
		t.Fatalf("PrimaryLSN = %s, before the commit's %s", lsn, committed)
	}
	waitFor(t, "both replicas at the primary's position", func() bool {
		return nodeStatus(tr, lc.urls[1]).LSN >= lsn && nodeStatus(tr, lc.urls[2]).LSN >= lsn
	})
	if s := nodeStatus(tr, lc.urls[0]); s.LSN < lsn || !s.Healthy {
		t.Errorf("primary status %+v, want at least %s", s, lsn)
	}
	got := choices(t, tr, lc, 10, Requirement{MinLSN: lsn})
	if got["r1"] != 5 || got["r2"] != 5 {
		t.Errorf("ryw reads of a replicated write went to %v, want 5 each on r1 and r2", got)
	}
}

func TestLiveReadYourWrites(t *testing.T) {
	lc := theCluster(t)
	tr := startLive(t, lc)

	// r1 stops replaying: only r2 can serve the write's reader.
	pauseReplay(t, lc.urls[1])
	write(t, lc)
	lsn, err := tr.PrimaryLSN(t.Context(), "s0")
	if err != nil {
		t.Fatal(err)
	}
	if got := choices(t, tr, lc, 20, Requirement{MinLSN: lsn, Wait: 10 * time.Second}); got["r2"] != 20 {
		t.Errorf("ryw reads with r1 paused went to %v, want all 20 on r2", got)
	}
	if nodeStatus(tr, lc.urls[1]).LSN >= lsn {
		t.Fatal("the paused replica replayed the write")
	}

	// Both paused: wait, then the primary or an error.
	pauseReplay(t, lc.urls[2])
	write(t, lc)
	lsn, err = tr.PrimaryLSN(t.Context(), "s0")
	if err != nil {
		t.Fatal(err)
	}
	req := Requirement{MinLSN: lsn, Wait: 100 * time.Millisecond, AllowPrimary: true}
	ch, err := tr.Choose(t.Context(), "s0", req)
	if err != nil || !ch.Fallback || !ch.Node.Primary || ch.Waited < req.Wait {
		t.Errorf("Choose with both replicas paused = %+v, %v; want the primary after waiting %s", ch, err, req.Wait)
	}
	req.AllowPrimary = false
	if _, err := tr.Choose(t.Context(), "s0", req); !errors.Is(err, ErrNoEligibleNode) {
		t.Errorf("Choose without the primary: %v, want ErrNoEligibleNode", err)
	}

	// Replay resumes: the next read's wait sees a replica catch up.
	resumeReplay(t, lc.urls[1])
	resumeReplay(t, lc.urls[2])
	req.Wait = 10 * time.Second
	ch, err = tr.Choose(t.Context(), "s0", req)
	if err != nil || ch.Node.Primary {
		t.Errorf("Choose after resuming = %+v, %v; want a replica", ch, err)
	}
	waitFor(t, "both replicas caught up", func() bool {
		return nodeStatus(tr, lc.urls[1]).LSN >= lsn && nodeStatus(tr, lc.urls[2]).LSN >= lsn
	})
	if got := choices(t, tr, lc, 10, Requirement{MinLSN: lsn}); got["r1"] != 5 || got["r2"] != 5 {
		t.Errorf("ryw reads after resuming went to %v, want 5 each on r1 and r2", got)
	}
}

func TestLiveEventualAndBounded(t *testing.T) {
	lc := theCluster(t)
	tr := startLive(t, lc)
	const maxLag = 300 * time.Millisecond

	pauseReplay(t, lc.urls[1])
	write(t, lc)
	waitFor(t, fmt.Sprintf("r1 lagging over %s", maxLag), func() bool { return nodeStatus(tr, lc.urls[1]).Lag > maxLag })
	if got := choices(t, tr, lc, 10, Requirement{Level: Eventual}); got["r1"] != 5 || got["r2"] != 5 {
		t.Errorf("eventual reads went to %v, want 5 each on r1 (stale) and r2", got)
	}
	if got := choices(t, tr, lc, 10, Requirement{Level: Bounded, MaxLag: maxLag, AllowPrimary: true}); got["r2"] != 10 {
		t.Errorf("bounded reads went to %v, want all 10 on r2", got)
	}

	resumeReplay(t, lc.urls[1])
	waitFor(t, "r1 caught up", func() bool { return nodeStatus(tr, lc.urls[1]).Lag == 0 })
	if got := choices(t, tr, lc, 10, Requirement{Level: Bounded, MaxLag: maxLag}); got["r1"] == 0 {
		t.Errorf("bounded reads after resuming went to %v, want r1 again", got)
	}
}

func TestLiveHealth(t *testing.T) {
	lc := theCluster(t)
	tr := startLive(t, lc)
	t.Cleanup(func() {
		if lc.r1.PID() == 0 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := lc.r1.Restart(ctx); err != nil {
				t.Errorf("restart r1: %v", err)
			}
		}
	})

	if err := lc.r1.Kill(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "r1 ejected", func() bool { return !nodeStatus(tr, lc.urls[1]).Healthy })
	if s := nodeStatus(tr, lc.urls[1]); s.Failures < 2 || s.LastError == nil {
		t.Errorf("r1 ejected with status %+v", s)
	}
	if got := choices(t, tr, lc, 10, Requirement{Level: Eventual}); got["r2"] != 10 {
		t.Errorf("reads with r1 down went to %v, want all 10 on r2", got)
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := lc.r1.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "r1 re-admitted", func() bool { return nodeStatus(tr, lc.urls[1]).Healthy })
	if got := choices(t, tr, lc, 10, Requirement{Level: Eventual}); got["r1"] != 5 || got["r2"] != 5 {
		t.Errorf("reads after r1's restart went to %v, want 5 each on r1 and r2", got)
	}
}

func TestLiveSurvivesDroppedMonitoringConnection(t *testing.T) {
	lc := theCluster(t)
	logs := newLogCounter()
	tr := startLiveLogged(t, lc, slog.New(logs))

	// The server ends the monitoring session (as a restart or an idle
	// timeout would): the next check reconnects without failing.
	terminated := exec(t, lc.urls[2], "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "+
		"WHERE query LIKE '%pg_last_wal_replay_lsn%' AND pid <> pg_backend_pid()")
	if terminated != "1" {
		t.Fatalf("terminated %s monitoring sessions on r2, want 1", terminated)
	}
	since := time.Now()
	waitFor(t, "two more checks of r2", func() bool {
		return nodeStatus(tr, lc.urls[2]).LastCheck.After(since.Add(2 * tr.opts.PollInterval))
	})
	if n := logs.count("replication: check failed", lc.urls[2]); n != 0 {
		t.Errorf("%d checks of r2 failed after its monitoring session ended", n)
	}
	if s := nodeStatus(tr, lc.urls[2]); !s.Healthy || s.Failures != 0 {
		t.Errorf("r2 status %+v", s)
	}
}

package replicatest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/router"
)

// A replica killed (SIGKILL, like pg_ctl stop -m immediate) under a read
// load: no read fails, reads move to the other replica or the primary,
// and the replica serves reads again once restarted.
func TestReplicaKilledUnderReadLoad(t *testing.T) {
	ctx := ctxT(t)
	w := connect(t)
	id := keyOn(t, "s0")
	if _, err := w.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'load')", id); err != nil {
		t.Fatal(err)
	}
	caughtUp(t, "s0")
	victim := stack.Deployment.Cluster("s0").Replicas[0]
	victimAddr := fmt.Sprintf("127.0.0.1:%d", victim.Port())
	t.Cleanup(func() {
		// Whatever happened, leave the replica running for other tests.
		if err := victim.Restart(context.Background()); err != nil && !strings.Contains(err.Error(), "still running") {
			t.Errorf("restart the replica: %v", err)
		}
	})

	var (
		stop        atomic.Bool
		reads, errs atomic.Int64
		mu          sync.Mutex
		afterKill   = map[string]int{}
		killed      atomic.Bool
		firstErrors []string
		wg          sync.WaitGroup
	)
	modes := []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec, pgx.QueryExecModeDescribeExec}
	for i := range 8 {
		c := connect(t)
		if i%2 == 1 {
			if _, err := c.Exec(ctx, "SET sqlrouter.read_consistency = eventual"); err != nil {
				t.Fatal(err)
			}
		}
		mode := modes[i%len(modes)]
		wg.Go(func() {
			for !stop.Load() {
				wasKilled := killed.Load()
				var name string
				err := c.QueryRow(ctx, "SELECT name FROM customers WHERE id = $1", mode, id).Scan(&name)
				reads.Add(1)
				if err != nil || name != "load" {
					errs.Add(1)
					mu.Lock()
					if len(firstErrors) < 5 {
						firstErrors = append(firstErrors, fmt.Sprintf("mode %v: %q %v", mode, name, err))
					}
					mu.Unlock()
					continue
				}
				var where string
				if err := c.QueryRow(ctx, "SHOW sqlrouter.last_route").Scan(&where); err != nil {
					errs.Add(1)
					continue
				}
				if wasKilled {
					mu.Lock()
					afterKill[where]++
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	killed.Store(true)
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d reads, %d failed; after the kill: %v", reads.Load(), errs.Load(), afterKill)
	if errs.Load() > 0 {
		t.Errorf("%d of %d reads failed: %v", errs.Load(), reads.Load(), firstErrors)
	}
	// Reads that began after the router noticed went elsewhere: the victim
	// may appear only for reads sent before it died.
	others := 0
	for where, n := range afterKill {
		if !strings.HasSuffix(where, victimAddr) {
			others += n
		}
	}
	if others == 0 {
		t.Errorf("no read after the kill was served by another node: %v", afterKill)
	}

	if err := victim.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	c := connect(t)
	if _, err := c.Exec(ctx, "SET sqlrouter.read_consistency = eventual"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if got := nameOf(t, c, id, ""); got != "load" {
			t.Fatalf("read after restart: %q", got)
		}
		if r := lastRoute(t, c); len(r) == 1 && r[0].addr == victimAddr {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the restarted replica serves no read")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With replication.primary_reads forbidden, a read no replica qualifies
// for fails with 57P03 instead of loading the primary; writes still work.
func TestPrimaryReadsForbidden(t *testing.T) {
	ctx := ctxT(t)
	cfg := router.Config{Listen: "127.0.0.1:0", Etcd: router.EtcdConfig{Endpoints: stack.Deployment.Etcd.Endpoints(), Key: stack.MapKey}}
	cfg.Replication.PrimaryReads = "forbidden"
	cfg.Replication.PollInterval = 100 * time.Millisecond
	r, err := router.Start(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Shutdown(sctx)
	})
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(r.Addr())
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://app@%s/app?sslmode=disable", net.JoinHostPort(host, port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)

	id := keyOn(t, "s1")
	caughtUp(t, "s1")
	pauseReplay(t, "s1")
	if _, err := c.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'forbidden')", id); err != nil {
		t.Fatal(err)
	}
	var name string
	err = c.QueryRow(ctx, "SELECT name FROM customers WHERE id = $1", id).Scan(&name)
	if sqlstate(err) != "57P03" {
		t.Errorf("read-your-writes read with every replica paused: %q %v, want 57P03", name, err)
	}
	// eventual still reads a replica, and the session goes on.
	if _, err := c.Exec(ctx, "SET sqlrouter.read_consistency = eventual"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM customers WHERE id = $1", id).Scan(&n); err != nil || n != 0 {
		t.Errorf("eventual read: %d %v, want 0 from a stale replica", n, err)
	}
	var where string
	c.QueryRow(ctx, "SHOW sqlrouter.last_route").Scan(&where)
	if !slices.ContainsFunc(replicaAddrs("s1"), func(a string) bool { return strings.HasSuffix(where, a) }) {
		t.Errorf("eventual read served by %s", where)
	}
}

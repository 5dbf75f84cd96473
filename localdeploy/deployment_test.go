package localdeploy

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestDeployment starts the default shape that `sqlrouter dev` uses (two
// shards of a primary and a replica, a coordinator, etcd) and checks each
// piece through its real client.
func TestDeployment(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	began := time.Now()
	d, err := Start(ctx, Options{
		Dir:         t.TempDir(),
		Coordinator: true,
		Etcd:        true,
		Logger:      slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("2 shards x 1 replica + coordinator + etcd ready in %v", time.Since(began).Round(time.Millisecond))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = d.Stop(context.Background())
		}
	})

	if len(d.Clusters) != 2 || d.Coordinator == nil || d.Etcd == nil {
		t.Fatalf("deployment = %+v, want 2 clusters, a coordinator and etcd", d)
	}
	for i, c := range d.Clusters {
		if want := "s" + strconv.Itoa(i); c.Name != want || c.Primary.Name != want+"-primary" ||
			len(c.Replicas) != 1 || c.Replicas[0].Name != want+"-replica1" {
			t.Fatalf("cluster %d = %s with primary %s and %d replicas", i, c.Name, c.Primary.Name, len(c.Replicas))
		}
	}
	if d.Cluster("s1") != d.Clusters[1] || d.Cluster("s9") != nil {
		t.Errorf("Cluster lookup by name is wrong")
	}

	for _, n := range d.Nodes() {
		for setting, want := range map[string]string{
			"wal_level":                 "logical",
			"max_prepared_transactions": "64",
			"server_encoding":           "UTF8",
			"lc_collate":                "C",
			"fsync":                     "off",
			"synchronous_commit":        "on",
			"listen_addresses":          "127.0.0.1",
			"unix_socket_directories":   "",
		} {
			if got := queryValue(ctx, t, n.DSN("app"), "SELECT current_setting($1)", setting); got != want {
				t.Errorf("%s: %s = %q, want %q", n.Name, setting, got, want)
			}
		}
	}

	for _, c := range d.Clusters {
		primary, replica := c.Primary, c.Replicas[0]
		if got := queryValue(ctx, t, primary.DSN("app"), "SELECT pg_is_in_recovery()"); got != "false" {
			t.Errorf("%s: pg_is_in_recovery() = %s", primary.Name, got)
		}
		if got := queryValue(ctx, t, replica.DSN("app"), "SELECT pg_is_in_recovery()"); got != "true" {
			t.Errorf("%s: pg_is_in_recovery() = %s", replica.Name, got)
		}
		if got := queryValue(ctx, t, primary.DSN("app"),
			"SELECT application_name FROM pg_stat_replication"); got != replica.Name {
			t.Errorf("%s: replica application_name = %q, want %q", primary.Name, got, replica.Name)
		}
		execSQL(ctx, t, primary.DSN("app"), "CREATE TABLE t (shard text); INSERT INTO t VALUES ('"+c.Name+"')")
		waitFor(ctx, t, replica.Name+" replays the insert", func() bool {
			got, err := tryQueryValue(ctx, replica.DSN("app"), "SELECT shard FROM t")
			return err == nil && got == c.Name
		})
	}

	cli, err := clientv3.New(clientv3.Config{Endpoints: d.Etcd.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "/localdeploy/test", "hello"); err != nil {
		t.Fatalf("etcd put: %v", err)
	}
	resp, err := cli.Get(ctx, "/localdeploy/test")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "hello" {
		t.Fatalf("etcd get = %v, %v; want hello", resp, err)
	}
	cli.Close()

	var pids []int
	for _, n := range d.Nodes() {
		pids = append(pids, n.PID())
	}
	stopped = true
	if err := d.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	for _, pid := range pids {
		if processAlive(pid) || groupAlive(pid) {
			t.Errorf("postgres pid %d (or one of its backends) survived Stop", pid)
		}
	}
	for _, n := range d.Nodes() {
		if n.PID() != 0 {
			t.Errorf("%s: PID() = %d after Stop", n.Name, n.PID())
		}
	}
	if err := d.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestOptionsCounts(t *testing.T) {
	for _, tc := range []struct {
		opts                     Options
		wantShards, wantReplicas int
	}{
		{Options{}, 2, 1},
		{Options{Shards: 3, Replicas: 2}, 3, 2},
		{Options{Shards: None, Replicas: None}, 0, 0},
	} {
		if s, r := tc.opts.counts(); s != tc.wantShards || r != tc.wantReplicas {
			t.Errorf("%+v: counts() = %d, %d; want %d, %d", tc.opts, s, r, tc.wantShards, tc.wantReplicas)
		}
	}
}

// When a replica cannot be created, Start fails, naming it, and leaves no
// process behind: the primary, coordinator and etcd it had started stop.
func TestStartFailureStopsEverything(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "s0-replica1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "s0-replica1", "in-the-way"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := Start(ctx, Options{Dir: dir, Shards: 1, Coordinator: true, Etcd: true,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err == nil {
		_ = d.Stop(ctx)
		t.Fatal("Start succeeded with a non-empty replica data directory")
	}
	if !strings.Contains(err.Error(), "s0-replica1") || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("error %q does not say that s0-replica1's directory is not empty", err)
	}
	if pids := processesMentioning(dir); len(pids) > 0 {
		t.Errorf("processes %v still run in %s", pids, dir)
	}
	// The started primary really was a server: its log says so.
	if log, err := os.ReadFile(filepath.Join(dir, "s0-primary", "server.log")); err != nil ||
		!strings.Contains(string(log), "database system is shut down") {
		t.Errorf("s0-primary was not started and shut down: %v\n%s", err, log)
	}
}

// processesMentioning returns the pids whose command line contains s.
func processesMentioning(s string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !processAlive(pid) {
			continue
		}
		if cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && strings.Contains(string(cmdline), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting until %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

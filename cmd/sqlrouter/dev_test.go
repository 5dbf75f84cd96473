package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/devstack"
)

// sqlrouter dev, as a user runs it: it becomes ready, writes cluster.json
// describing a sharded and replicated deployment, serves psql-style
// clients, and on SIGTERM stops every process it started.
func TestDevCommand(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sqlrouter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "dev")
	cmd := exec.Command(bin, "dev", "--dir", dir, "--listen", "127.0.0.1:0", "--shards", "3", "--replicas", "1", "--log-level", "warn")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	}()

	infoPath := filepath.Join(dir, "cluster.json")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(infoPath); err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("dev exited before it was ready: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cluster.json after 2 minutes\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	var info devstack.Info
	data, _ := os.ReadFile(infoPath)
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatalf("cluster.json: %v\n%s", err, data)
	}
	if len(info.Clusters) != 3 || info.Coordinator == "" || len(info.Etcd) == 0 || info.ShardMapKey == "" {
		t.Fatalf("cluster.json is incomplete: %s", data)
	}
	for name, c := range info.Clusters {
		if c.Primary == "" || len(c.Replicas) != 1 {
			t.Errorf("cluster %s: %+v", name, c)
		}
	}
	if !strings.Contains(out.String(), "psql \""+info.Router+"\"") {
		t.Errorf("dev did not print the psql command for %s:\n%s", info.Router, out.String())
	}

	// Production-shaped: TLS with a self-signed certificate the client can
	// verify, and SCRAM with the password in cluster.json.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ru, err := url.Parse(info.Router)
	if err != nil {
		t.Fatal(err)
	}
	password, hasPassword := ru.User.Password()
	if !hasPassword || password == "" || ru.Query().Get("sslmode") != "require" || info.TLSCert == "" {
		t.Errorf("cluster.json: router %s, tls_cert %q: want a password, sslmode=require and the certificate", info.Router, info.TLSCert)
	}
	q := ru.Query()
	q.Set("sslmode", "verify-full")
	q.Set("sslrootcert", info.TLSCert)
	ru.RawQuery = q.Encode()
	c, err := pgx.Connect(ctx, ru.String())
	if err != nil {
		t.Fatalf("verify-full with the self-signed certificate: %v", err)
	}
	if _, ok := c.PgConn().Conn().(*tls.Conn); !ok {
		t.Error("the connection is not encrypted")
	}
	ru.User = url.UserPassword(ru.User.Username(), "not-"+password)
	var pe *pgconn.PgError
	if _, err := pgx.Connect(ctx, ru.String()); !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Errorf("a wrong password: %v, want 28P01", err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO customers (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM countries").Scan(&n); err != nil || n == 0 {
		t.Errorf("example reference table: %d rows, %v", n, err)
	}
	// The metrics endpoint of cluster.json answers, with /readyz beside it.
	if !strings.HasPrefix(info.Metrics, "http://127.0.0.1:") || !strings.HasSuffix(info.Metrics, "/metrics") {
		t.Fatalf("cluster.json metrics = %q", info.Metrics)
	}
	for url, want := range map[string]string{info.Metrics: "sqlrouter_client_sessions 1", strings.TrimSuffix(info.Metrics, "metrics") + "readyz": "ready"} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %s, want 200 with %q:\n%.2000s", url, resp.Status, want, body)
		}
	}
	// Every replica streams from its primary.
	for name, cl := range info.Clusters {
		r, err := pgx.Connect(ctx, cl.Replicas[0])
		if err != nil {
			t.Fatal(err)
		}
		var standby bool
		r.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&standby)
		if !standby {
			t.Errorf("replica of %s is not in recovery", name)
		}
		r.Close(ctx)
	}
	c.Close(ctx)

	pids := serverPIDs(t, dir)
	if len(pids) < 7 {
		t.Errorf("found %d postmasters under %s, want 7 (3 primaries, 3 replicas, coordinator)", len(pids), dir)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("dev exited with %v\n%s", err, out.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("dev did not stop on SIGTERM")
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("postmaster %d outlived sqlrouter dev", pid)
		}
	}
	if _, err := os.Stat(infoPath); err == nil {
		t.Error("cluster.json stays after dev stopped")
	}
}

// serverPIDs lists the postmasters whose data directory is under dir.
func serverPIDs(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), "postmaster.pid"))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.SplitN(string(data), "\n", 2)[0]); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

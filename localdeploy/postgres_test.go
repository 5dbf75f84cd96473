package localdeploy

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// A killed primary keeps every acknowledged commit (fsync=off but
// synchronous_commit=on) and comes back on the same port.
func TestKillAndRestart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	p := StartTestPostgres(t)

	if got := queryValue(ctx, t, p.DSN("app"), "SELECT current_database()"); got != "app" {
		t.Fatalf("current_database() = %q", got)
	}
	execSQL(ctx, t, p.DSN("app"), "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
	pid, port := p.PID(), p.Port()

	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if processAlive(pid) || groupAlive(pid) {
		t.Fatalf("postgres %d (or a backend) survived Kill", pid)
	}
	if p.PID() != 0 {
		t.Errorf("PID() = %d after Kill, want 0", p.PID())
	}
	if err := p.Kill(); err != nil {
		t.Errorf("second Kill: %v", err)
	}

	if err := p.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if p.Port() != port || p.PID() == 0 || p.PID() == pid {
		t.Errorf("after Restart: port %d pid %d; before: port %d pid %d", p.Port(), p.PID(), port, pid)
	}
	if got := queryValue(ctx, t, p.DSN("app"), "SELECT count(*) FROM t"); got != "1" {
		t.Errorf("after crash: count(*) = %s, want 1", got)
	}
	if err := p.Restart(ctx); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Errorf("Restart of a running server: err = %v, want still running", err)
	}

	execSQL(ctx, t, p.DSN("app"), "INSERT INTO t VALUES (2)")
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := p.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if got := queryValue(ctx, t, p.DSN("app"), "SELECT count(*) FROM t"); got != "2" {
		t.Errorf("after Stop and Restart: count(*) = %s, want 2", got)
	}
	log, err := os.ReadFile(p.LogPath())
	if err != nil || !strings.Contains(string(log), "database system was interrupted") {
		t.Errorf("server.log lost its history across restarts or shows no crash recovery: %v", err)
	}
}

func TestStartPostgresNonEmptyDir(t *testing.T) {
	ctx := testContext(t)
	bin, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = StartPostgres(ctx, bin, PostgresOptions{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("StartPostgres into a non-empty dir: err = %v", err)
	}
}

// An explicit port that is taken fails with the server's own words.
func TestStartPostgresPortTaken(t *testing.T) {
	ctx := testContext(t)
	bin, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = StartPostgres(ctx, bin, PostgresOptions{DataDir: filepath.Join(t.TempDir(), "pg"), Port: port})
	if !errors.Is(err, errPortInUse) || !strings.Contains(err.Error(), "could not bind") {
		t.Fatalf("StartPostgres on taken port %d: err = %v, want errPortInUse with the log tail", port, err)
	}
}

// A picked port that someone takes before the server binds it is replaced.
// Not parallel: it swaps freePort.
func TestStartPostgresRetriesTakenPort(t *testing.T) {
	ctx := testContext(t)
	bin, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	realFreePort := freePort
	t.Cleanup(func() { freePort = realFreePort })
	calls := 0
	freePort = func() (int, error) {
		calls++
		if calls == 1 {
			return busy, nil
		}
		return realFreePort()
	}
	p, err := StartPostgres(ctx, bin, PostgresOptions{DataDir: filepath.Join(t.TempDir(), "pg")})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(ctx)
	if p.Port() == busy || calls != 2 {
		t.Errorf("port %d after %d picks; the first pick %d was busy", p.Port(), calls, busy)
	}
}

// A server that does not shut down before the deadline is killed, with
// all its processes.
func TestStopKillsAfterDeadline(t *testing.T) {
	t.Parallel()
	p := StartTestPostgres(t)
	pid := p.PID()
	// A stopped postmaster cannot act on SIGINT; SIGKILL still works.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := p.Stop(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Stop of a frozen server: err = %v, want deadline exceeded and killed", err)
	}
	if processAlive(pid) || groupAlive(pid) {
		t.Errorf("postgres %d (or a backend) survived", pid)
	}
}

// Kill leaves no backend alive: a command sent on a connection opened
// before the kill is never executed, even though backends leave the
// postmaster's process group.
func TestKillKillsTheBackends(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	p := StartTestPostgres(t)
	execSQL(ctx, t, p.DSN("app"), "CREATE TABLE t (x int)")
	conn, err := pgconn.Connect(ctx, p.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	backend := int(conn.PID())
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if processAlive(backend) {
		t.Fatalf("backend %d survived Kill", backend)
	}
	conn.Exec(ctx, "INSERT INTO t VALUES (1)").ReadAll()
	if err := p.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if got := queryValue(ctx, t, p.DSN("app"), "SELECT count(*) FROM t"); got != "0" {
		t.Errorf("a command sent after Kill was executed: count(*) = %s", got)
	}
}

package docker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/localdeploy"
)

const (
	replicationUser     = "replicator"
	replicationPassword = "s3cret 'quoted'"
)

// The compose file's scripts, run outside Docker against a local primary
// with the environment the containers give them: primary-init.sh creates
// the replication role (twice, as the image could run it, without harm),
// and replica-bootstrap.sh turns an empty directory into a replica, then
// starts it, and it streams, authenticating with the role's password.
func TestReplicaBootstrap(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, err := localdeploy.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	cred := serverAccount(t)
	primary := localdeploy.StartTestPostgres(t)

	// Replication connections from 127.0.0.1 must give the password, as
	// they must between containers (the local servers trust 127.0.0.1).
	hba := filepath.Join(primary.DataDir(), "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	strict := fmt.Sprintf("host replication %s 127.0.0.1/32 scram-sha-256\n", replicationUser)
	if err := os.WriteFile(hba, append([]byte(strict), old...), 0o600); err != nil {
		t.Fatal(err)
	}

	initEnv := cleanEnv("PATH="+bin.Dir+":"+os.Getenv("PATH"),
		"PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(primary.Port()),
		"POSTGRES_USER=postgres", "POSTGRES_DB=postgres", "PGDATA="+primary.DataDir(),
		"REPLICATION_USER="+replicationUser, "REPLICATION_PASSWORD="+replicationPassword)
	run := scriptCommand(t, cred, "primary-init.sh")
	run.Env = initEnv
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("primary-init.sh: %v\n%s", err, out)
	}
	// The image sources a script that is not executable: the same again.
	sourced := exec.Command("bash", "-c", `set -Eeo pipefail; . "$0"; echo done`, mustAbs(t, "primary-init.sh"))
	sourced.Dir, sourced.Env = "/", initEnv
	sourced.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := sourced.CombinedOutput(); err != nil || !strings.Contains(string(out), "done") {
		t.Fatalf("primary-init.sh, sourced a second time: %v\n%s", err, out)
	}
	now, _ := os.ReadFile(hba)
	line := fmt.Sprintf("host replication %s all scram-sha-256", replicationUser)
	if n := strings.Count(string(now), line+"\n"); n != 1 {
		t.Errorf("pg_hba.conf holds %q %d times, want once:\n%s", line, n, now)
	}
	pc := connect(ctx, t, primary.DSN("postgres"))
	var canReplicate bool
	if err := pc.QueryRow(ctx, "SELECT rolreplication FROM pg_roles WHERE rolname = $1", replicationUser).Scan(&canReplicate); err != nil || !canReplicate {
		t.Fatalf("role %s: replication %v, %v", replicationUser, canReplicate, err)
	}

	// The replica's data directory does not exist yet: the script makes it.
	parent := filepath.Join(t.TempDir(), "replica")
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	chownToServer(t, cred, parent)
	makeTraversable(t, filepath.Dir(parent))
	pgdata := filepath.Join(parent, "pgdata")
	port := freePort(t)
	args := []string{bin.Path("postgres"), "-D", pgdata, "-p", strconv.Itoa(port)}
	serverSettings := primary.Settings()
	serverSettings["listen_addresses"] = "127.0.0.1"
	serverSettings["unix_socket_directories"] = ""
	names := make([]string, 0, len(serverSettings))
	for name := range serverSettings {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		args = append(args, "-c", name+"="+serverSettings[name])
	}
	bootstrapEnv := cleanEnv("PATH="+bin.Dir+":"+os.Getenv("PATH"), "PGDATA="+pgdata,
		"PRIMARY_HOST=127.0.0.1", "PRIMARY_PORT="+strconv.Itoa(primary.Port()),
		"REPLICATION_USER="+replicationUser, "REPLICATION_PASSWORD="+replicationPassword,
		"REPLICA_NAME=test-replica", "PRIMARY_WAIT_SECONDS=30")
	replica := scriptCommand(t, cred, "replica-bootstrap.sh", args...)
	replica.Env = bootstrapEnv
	var log bytes.Buffer
	replica.Stdout, replica.Stderr = &log, &log
	exited := startServer(t, replica)

	rc := waitConnect(ctx, t, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), exited, &log)
	var inRecovery bool
	if err := rc.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil || !inRecovery {
		t.Fatalf("replica: pg_is_in_recovery() = %v, %v\n%s", inRecovery, err, log.String())
	}
	// It streams: the primary sees it by name, and a write arrives.
	if _, err := pc.Exec(ctx, "CREATE TABLE streamed (v text); INSERT INTO streamed VALUES ('hello')"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var state string
		err1 := pc.QueryRow(ctx, "SELECT state FROM pg_stat_replication WHERE application_name = 'test-replica'").Scan(&state)
		var v string
		err2 := rc.QueryRow(ctx, "SELECT v FROM streamed").Scan(&v)
		if err1 == nil && state == "streaming" && err2 == nil && v == "hello" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica not streaming: state %q (%v), row %q (%v)\n%s", state, err1, v, err2, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	var conninfo string
	if err := rc.QueryRow(ctx, "SHOW primary_conninfo").Scan(&conninfo); err != nil || !strings.Contains(strings.ReplaceAll(conninfo, "'", ""), "application_name=test-replica") {
		t.Errorf("primary_conninfo %q, %v", conninfo, err)
	}

	// Run again on the existing directory: it keeps it (a restarted
	// container must not take a new base backup).
	again := scriptCommand(t, cred, "replica-bootstrap.sh")
	again.Env = bootstrapEnv
	if out, err := again.CombinedOutput(); err != nil || !strings.Contains(string(out), "already holds a cluster") {
		t.Errorf("second run: %v\n%s", err, out)
	}
}

// A directory that holds something but no cluster is refused, not wiped.
func TestReplicaBootstrapRefusesForeignDirectory(t *testing.T) {
	t.Parallel()
	cred := serverAccount(t)
	dir := filepath.Join(t.TempDir(), "pgdata")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(dir, "precious")
	if err := os.WriteFile(keep, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	chownToServer(t, cred, dir)
	makeTraversable(t, filepath.Dir(dir))
	cmd := scriptCommand(t, cred, "replica-bootstrap.sh", "true")
	cmd.Env = cleanEnv("PGDATA="+dir, "PRIMARY_HOST=127.0.0.1", "PRIMARY_PORT=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "holds no cluster") {
		t.Errorf("bootstrap into a foreign directory: %v\n%s", err, out)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("the directory's content is gone: %v", err)
	}
}

// startServer starts cmd (which becomes a server) from a goroutine locked
// to its OS thread until the process is reaped, so that the kernel's
// parent-death signal, which follows the forking thread, kills the server
// only if this test process dies. The server is stopped at the end of the
// test; the channel closes when it has exited.
func startServer(t *testing.T, cmd *exec.Cmd) <-chan struct{} {
	t.Helper()
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			close(exited)
			return
		}
		started <- nil
		cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
		// Backends of the group may outlive the postmaster by a moment.
		for i := 0; i < 100 && syscall.Kill(-pgid, 0) == nil; i++ {
			time.Sleep(50 * time.Millisecond)
		}
		syscall.Kill(-pgid, syscall.SIGKILL)
	})
	return exited
}

// waitConnect connects to a server that is starting, failing early if
// its process exits.
func waitConnect(ctx context.Context, t *testing.T, dsn string, exited <-chan struct{}, log *bytes.Buffer) *pgx.Conn {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		c, err := pgx.Connect(ctx, dsn)
		if err == nil {
			t.Cleanup(func() { c.Close(context.Background()) })
			return c
		}
		select {
		case <-exited:
			t.Fatalf("the server exited before accepting connections:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection to %s: %v\n%s", dsn, err, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func connect(ctx context.Context, t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// makeTraversable lets other users through dir and its ancestors
// (t.TempDir makes 0700 directories), so the server account reaches what
// is below.
func makeTraversable(t *testing.T, dir string) {
	t.Helper()
	for ; ; dir = filepath.Dir(dir) {
		info, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(dir, info.Mode().Perm()|0o011); err != nil {
				t.Fatal(err)
			}
		}
		if dir == filepath.Dir(dir) {
			return
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

package localdeploy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runOrphanHelper is the child side of TestOrphanedServerDies: it starts a
// server in dir, prints its pid, and when its stdin closes exits without
// stopping it.
func runOrphanHelper(dir string) int {
	bin, err := FindBinaries()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := StartPostgres(ctx, bin, PostgresOptions{DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("pid=%d\n", p.PID())
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0) // no Stop: the kernel must clean up
	return 0
}

// A process that dies without stopping its servers takes them along: the
// parent-death signal survives the switch to the postgres user.
func TestOrphanedServerDies(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envOrphanHelper+"="+t.TempDir()+"/pg")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("helper printed no pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "pid="))
	if err != nil {
		t.Fatalf("helper printed %q", line)
	}
	t.Cleanup(func() { // a failed test must not leak the server either
		if groupAlive(pid) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if !processAlive(pid) || strings.TrimSpace(string(comm)) != "postgres" {
		t.Fatalf("pid %d is not a running postgres (comm %q)", pid, comm)
	}
	acct, err := serverAccount()
	if err != nil {
		t.Fatal(err)
	}
	if uid := processUID(t, pid); uid != acct.uid {
		t.Errorf("postgres runs as uid %d, want %d", uid, acct.uid)
	}

	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for processAlive(pid) || groupAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("postgres %d (or a backend) still alive 10s after its parent died", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processUID reads the real uid of pid from /proc.
func processUID(t *testing.T, pid int) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if fields := strings.Fields(line); len(fields) > 1 && fields[0] == "Uid:" {
			uid, _ := strconv.Atoi(fields[1])
			return uid
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
	return -1
}

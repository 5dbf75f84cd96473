package drivertest

import (
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/sqlrouter/sqlrouter/localdeploy"
)

// The scenario with the psql binary (libpq 15): verify-full, channel
// binding required, psql's Ctrl-C (SIGINT) canceling pg_sleep. The
// prepared statement step interpolates variables instead: psql 15 cannot
// send one (see testdata/psql/scenario.sql).
func TestPsql(t *testing.T) {
	bin, err := localdeploy.FindBinaries()
	if err != nil {
		t.Skipf("psql is not installed: %v", err)
	}
	s := newScenario(t, "psql")
	cmd := exec.Command("bash", "testdata/psql/scenario.sh")
	cmd.Env = append(os.Environ(), "PSQL="+bin.Path("psql"))
	// Its own process group, which the interrupt signals as a terminal's
	// Ctrl-C does: psql cancels its statement, bash carries on.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	run := startProcess(t, s, cmd)
	run.interrupt = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	want := s.want()
	want[2] = "interpolated: " + s.name()
	checkLines(t, s, run, want)
}

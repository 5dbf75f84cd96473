package drivertest

import (
	"os/exec"
	"testing"
)

// python3 is Debian's interpreter, where Debian's python3-psycopg
// installs (another python3 first on PATH would not see it).
const python3 = "/usr/bin/python3"

// The scenario with psycopg 3 (libpq underneath): server-side prepared
// statements (prepare=True), channel binding required, conn.cancel() from
// another thread.
func TestPsycopg(t *testing.T) {
	if out, err := exec.Command(python3, "-c", "import psycopg").CombinedOutput(); err != nil {
		t.Skipf("psycopg is not installed (apt-get install python3-psycopg, as .ci/run does): %v\n%s", err, out)
	}
	s := newScenario(t, "psycopg")
	check(t, s, startProcess(t, s, exec.Command(python3, "testdata/psycopg/scenario.py")))
}

package localdeploy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// envPrintSharedDir makes TestRunTests print the shared deployment's
// directory, for TestRunTestsRemovesItsDir.
const envPrintSharedDir = "LOCALDEPLOY_TEST_PRINT_SHARED_DIR"

// TestMain runs this package under RunTests; this test checks what it got.
func TestRunTests(t *testing.T) {
	ctx := testContext(t)
	if shared == nil {
		t.Fatal("RunTests did not store the deployment")
	}
	if os.Getenv(envPrintSharedDir) != "" {
		fmt.Printf("shared-dir=%s\n", shared.Dir)
	}
	if !strings.HasPrefix(filepath.Base(shared.Dir), "sqlrouter-test-") {
		t.Errorf("Dir = %s, want a new sqlrouter-test-* directory", shared.Dir)
	}
	if len(shared.Clusters) != 1 || len(shared.Clusters[0].Replicas) != 0 || shared.Coordinator != nil || shared.Etcd == nil {
		t.Fatalf("shared deployment = %+v, want one cluster without replicas, no coordinator, etcd", shared)
	}
	if got := queryValue(ctx, t, shared.Clusters[0].Primary.DSN("app"), "SELECT current_database()"); got != "app" {
		t.Errorf("current_database() = %q", got)
	}
}

// RunTests removes its directory after the tests, unless asked to keep it.
func TestRunTestsRemovesItsDir(t *testing.T) {
	t.Parallel()
	for _, keep := range []bool{false, true} {
		env := []string{envPrintSharedDir + "=1", EnvKeepTestDir + "=0"}
		if keep {
			env = append(env, EnvKeepTestDir+"=1") // the last one wins
		}
		out, _, err := runTestBinary(t, "^TestRunTests$", env...)
		if err != nil {
			t.Fatalf("keep=%v: %v\n%s", keep, err, out)
		}
		m := regexp.MustCompile(`shared-dir=(\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("keep=%v: no shared-dir in output:\n%s", keep, out)
		}
		_, statErr := os.Stat(m[1])
		if keep {
			if statErr != nil {
				t.Errorf("keep=%v: %s is gone: %v", keep, m[1], statErr)
			}
			_ = os.RemoveAll(m[1])
		} else if !errors.Is(statErr, os.ErrNotExist) {
			t.Errorf("keep=%v: %s still exists (%v)", keep, m[1], statErr)
		}
	}
}

// Without Postgres binaries, a package using RunTests fails; it does not
// skip.
func TestRunTestsFailsWithoutBinaries(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	_, stderr, err := runTestBinary(t, "^$", EnvPGBin+"="+empty)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("err = %v, want exit code 1\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "FAIL: localdeploy.RunTests") || !strings.Contains(stderr, empty) {
		t.Errorf("stderr does not say why:\n%s", stderr)
	}
}

// runTestBinary runs this test binary again with -test.run=pattern and the
// extra environment.
func runTestBinary(t *testing.T, pattern string, env ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.CommandContext(testContext(t), os.Args[0], "-test.run="+pattern)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

package localdeploy

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// EnvKeepTestDir, set to 1, keeps the directories of test deployments.
const EnvKeepTestDir = "SQLROUTER_KEEP_TEST_DIR"

// RunTests runs a test package against one shared deployment:
//
//	var dep *localdeploy.Deployment
//	func TestMain(m *testing.M) { os.Exit(localdeploy.RunTests(m, localdeploy.Options{Etcd: true}, &dep)) }
//
// It starts the deployment in a new temporary directory (opts.Dir is
// ignored), stores it in *dep, runs m.Run(), stops everything and removes
// the directory unless SQLROUTER_KEEP_TEST_DIR=1. Missing Postgres
// binaries, or a failed start or stop, fail the package with exit code 1:
// an integration test that cannot run must not pass by skipping. Logs go
// to stderr: warnings, and with -v the start-up lines too.
func RunTests(m *testing.M, opts Options, dep **Deployment) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	if opts.Logger == nil {
		level := slog.LevelWarn
		if testing.Verbose() {
			level = slog.LevelInfo
		}
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	if _, err := FindBinaries(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: localdeploy.RunTests: %v\n", err)
		return 1
	}
	root, err := os.MkdirTemp("", "sqlrouter-test-*")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: localdeploy.RunTests: %v\n", err)
		return 1
	}
	defer removeTestDir(root)
	opts.Dir = root

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	d, err := Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: localdeploy.RunTests: start deployment: %v\n", err)
		return 1
	}
	if dep != nil {
		*dep = d
	}

	code := m.Run()

	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Stop(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: localdeploy.RunTests: stop deployment: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// removeTestDir removes dir unless SQLROUTER_KEEP_TEST_DIR=1.
func removeTestDir(dir string) {
	if os.Getenv(EnvKeepTestDir) == "1" {
		fmt.Fprintf(os.Stderr, "localdeploy: keeping %s (%s=1)\n", dir, EnvKeepTestDir)
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(os.Stderr, "localdeploy: remove %s: %v\n", dir, err)
	}
}

// StartTestPostgres starts a throwaway Postgres for one test, in a
// directory under t.TempDir(), and registers t.Cleanup to stop it. Missing
// binaries or a failed start fail the test (never skip it).
func StartTestPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin, err := FindBinaries()
	if err != nil {
		t.Fatalf("localdeploy: %v", err)
	}
	dir := t.TempDir()
	if os.Getenv(EnvKeepTestDir) == "1" {
		if dir, err = os.MkdirTemp("", "sqlrouter-test-*"); err != nil {
			t.Fatalf("localdeploy: %v", err)
		}
		t.Logf("localdeploy: keeping %s (%s=1)", dir, EnvKeepTestDir)
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := StartPostgres(ctx, bin, PostgresOptions{DataDir: filepath.Join(dir, "pg"), Logger: logger, Name: t.Name()})
	if err != nil {
		t.Fatalf("localdeploy: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Errorf("localdeploy: %v", err)
		}
	})
	return p
}

// testWriter sends log lines to t.Log, shown with -v or on failure.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

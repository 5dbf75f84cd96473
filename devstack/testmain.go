package devstack

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/sqlrouter/sqlrouter/localdeploy"
)

// RunTests runs a test package against one shared stack:
//
//	var stack *devstack.Stack
//	func TestMain(m *testing.M) { os.Exit(devstack.RunTests(m, devstack.Options{}, &stack)) }
//
// The stack lives in a new temporary directory, removed afterwards unless
// SQLROUTER_KEEP_TEST_DIR=1. A stack that cannot start fails the package:
// integration tests never pass by skipping.
func RunTests(m *testing.M, opts Options, stack **Stack) int {
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
	dir, err := os.MkdirTemp("", "sqlrouter-test-*")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: devstack.RunTests: %v\n", err)
		return 1
	}
	defer func() {
		if os.Getenv(localdeploy.EnvKeepTestDir) == "1" {
			fmt.Fprintf(os.Stderr, "devstack: keeping %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	opts.Dir = dir
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	s, err := Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: devstack.RunTests: %v\n", err)
		return 1
	}
	*stack = s
	code := m.Run()
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: devstack.RunTests: stop: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

package localdeploy

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
)

// command builds a child process running as the server account, in its own
// process group, dying with us, in the C locale, from the root directory
// (the server account may not be allowed into our working directory).
func command(path string, args []string, a account) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Env = a.env()
	cmd.Dir = "/"
	cmd.SysProcAttr = childAttr(a)
	return cmd
}

// runTool runs a short-lived program (initdb, pg_basebackup) to completion
// as the server account. When ctx ends first, its process group is killed.
// The error holds the program's output.
func runTool(ctx context.Context, a account, path string, args ...string) error {
	cmd := command(path, args, a)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := startChild(cmd); err != nil {
		return fmt.Errorf("localdeploy: start %s: %w", path, err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
		err = ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("localdeploy: %s %s: %w\n%s", path, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

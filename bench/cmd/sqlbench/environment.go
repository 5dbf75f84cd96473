package main

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// describeEnvironment records the machine and software versions, so that
// numbers from different runs can be told apart.
func describeEnvironment(pgbench string) environment {
	env := environment{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				env.CPU = strings.TrimSpace(value)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				env.MemoryMiB = kb / 1024
			}
		}
	}
	run := func(name string, args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, name, args...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	env.Kernel = run("uname", "-sr")
	env.PostgreSQL = run(pgbench, "--version")
	env.Commit = run("git", "rev-parse", "--short", "HEAD")
	if env.Commit != "" && run("git", "status", "--porcelain", "--untracked-files=no") != "" {
		env.Commit += " (with uncommitted changes)"
	}
	return env
}

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// daemon is a long-running child (sqlrouter dev, PgBouncer) that the
// harness must stop whatever happens.
type daemon struct {
	name string
	cmd  *exec.Cmd
	// stopSignal asks it to shut down cleanly.
	stopSignal syscall.Signal
	done       chan struct{}
	err        error // valid after done is closed
}

// Exited reports whether the process has ended.
func (d *daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// PID is the child's process id.
func (d *daemon) PID() int { return d.cmd.Process.Pid }

// daemons tracks every daemon started, so that one call stops them all on
// success, failure or Ctrl-C.
type daemons struct {
	mu     sync.Mutex
	list   []*daemon
	logger *slog.Logger
}

// childAttr puts a child in its own process group (a terminal's Ctrl-C
// reaches only the harness, which stops children in order) and has the
// kernel send it SIGTERM should the harness die. Children are started from
// the main goroutine, locked to the main thread (see main), because the
// parent-death signal follows the forking thread.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// start runs cmd as a daemon. Its output goes to logPath.
func (ds *daemons) start(name string, cmd *exec.Cmd, stopSignal syscall.Signal, logPath string) (*daemon, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = childAttr()
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, stopSignal: stopSignal, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		log.Close()
		close(d.done)
	}()
	ds.mu.Lock()
	ds.list = append(ds.list, d)
	ds.mu.Unlock()
	ds.logger.Info("started", "process", name, "pid", d.PID(), "log", logPath)
	return d, nil
}

// stop asks d to shut down and waits up to grace, then kills its process
// group.
func (ds *daemons) stop(d *daemon, grace time.Duration) error {
	if !d.Exited() {
		d.cmd.Process.Signal(d.stopSignal)
	}
	select {
	case <-d.done:
	case <-time.After(grace):
		ds.logger.Warn("did not stop in time; killing its process group", "process", d.name, "pid", d.PID())
		syscall.Kill(-d.PID(), syscall.SIGKILL)
		<-d.done
	}
	ds.mu.Lock()
	for i, x := range ds.list {
		if x == d {
			ds.list = append(ds.list[:i], ds.list[i+1:]...)
			break
		}
	}
	ds.mu.Unlock()
	var ee *exec.ExitError
	if d.err != nil && !errors.As(d.err, &ee) {
		return d.err
	}
	return nil
}

// stopAll stops every daemon still running, newest first.
func (ds *daemons) stopAll(grace time.Duration) {
	for {
		ds.mu.Lock()
		if len(ds.list) == 0 {
			ds.mu.Unlock()
			return
		}
		d := ds.list[len(ds.list)-1]
		ds.mu.Unlock()
		if err := ds.stop(d, grace); err != nil {
			ds.logger.Warn("stop", "process", d.name, "err", err)
		}
	}
}

// cleanEnv is the environment for PostgreSQL client programs: ours without
// PG* variables, which would redirect or reconfigure them.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

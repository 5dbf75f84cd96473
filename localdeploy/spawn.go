package localdeploy

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// The kernel sends the parent-death signal when the *thread* that forked a
// child exits, not when the process does (go.dev/issue/27505). Go threads
// rarely exit, but one does whenever a goroutine ends while locked to it,
// and a server would then be killed in the middle of a test. So every child
// is started from one goroutine locked to its thread for the life of the
// process: that thread outlives every child, and ends only with us.

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce     sync.Once
	spawnRequests chan spawnRequest
)

// StartChild starts cmd as a child that the kernel SIGKILLs when this
// process dies (even by an unrecovered panic or a test timeout), in a
// process group of its own: it sets cmd.SysProcAttr's Setpgid and
// Pdeathsig (Linux only) and calls cmd.Start on the thread that starts every server
// of this package, which lives as long as the process. Tests use it for
// the processes they start besides PostgreSQL (a router binary).
func StartChild(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	dieWithParent(cmd.SysProcAttr)
	return startChild(cmd)
}

// startChild runs cmd.Start on the dedicated spawning thread.
func startChild(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnRequests = make(chan spawnRequest)
		go spawnLoop(spawnRequests)
	})
	req := spawnRequest{cmd: cmd, done: make(chan error, 1)}
	spawnRequests <- req
	return <-req.done
}

func spawnLoop(requests <-chan spawnRequest) {
	runtime.LockOSThread() // never unlocked: this thread must not exit
	for req := range requests {
		req.done <- req.cmd.Start()
	}
}

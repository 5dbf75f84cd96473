package localdeploy

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// childAttr makes a child its own process group leader (so that a terminal's
// Ctrl-C reaches only us; PostgreSQL's own children leave the group, see
// killGroup), runs it as the server account, and has the kernel
// SIGKILL it when we die. Go's child setup calls setuid before
// prctl(PR_SET_PDEATHSIG) (setuid clears the death signal), so the two
// combine; TestOrphanedServerDies checks it.
func childAttr(a account) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if a.switchUser {
		attr.Credential = &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid)}
	}
	return attr
}

// dieWithParent has the kernel SIGKILL the child when we die.
func dieWithParent(attr *syscall.SysProcAttr) { attr.Pdeathsig = syscall.SIGKILL }

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	st, ok := readStat(pid)
	return ok && st.state != 'Z'
}

// groupAlive reports whether any live (non-zombie) process belongs to
// process group pgid.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		// Without /proc, fall back to kill(2), which also counts zombies.
		return syscall.Kill(-pgid, 0) == nil
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok && st.pgrp == pgid && st.state != 'Z' {
			return true
		}
	}
	return false
}

type procStat struct {
	state byte
	ppid  int
	pgrp  int
}

// freezeAndListChildren stops pid (SIGSTOP), waits up to a second until it
// is stopped, so that it forks no more, and returns its children.
func freezeAndListChildren(pid int) []int {
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		st, ok := readStat(pid)
		if !ok || st.state == 'T' || st.state == 't' || st.state == 'Z' {
			break
		}
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(child); ok && st.ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// readStat parses /proc/PID/stat: "pid (comm) state ppid pgrp ...", where
// comm may itself hold spaces and parentheses.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 3 || len(fields[0]) != 1 {
		return procStat{}, false
	}
	ppid, err := strconv.Atoi(string(fields[1]))
	if err != nil {
		return procStat{}, false
	}
	pgrp, err := strconv.Atoi(string(fields[2]))
	if err != nil {
		return procStat{}, false
	}
	return procStat{state: fields[0][0], ppid: ppid, pgrp: pgrp}, true
}

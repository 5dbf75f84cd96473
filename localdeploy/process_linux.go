package localdeploy

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// childAttr makes a child its own process group leader (so that a stop can
// signal the server and all its backends at once, and a terminal's Ctrl-C
// reaches only us), runs it as the server account, and has the kernel
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
	pgrp  int
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
	pgrp, err := strconv.Atoi(string(fields[2]))
	if err != nil {
		return procStat{}, false
	}
	return procStat{state: fields[0][0], pgrp: pgrp}, true
}

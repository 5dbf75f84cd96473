//go:build !linux

package localdeploy

import "syscall"

// childAttr makes a child its own process group leader and runs it as the
// server account. Outside Linux there is no parent-death signal, so a
// crashed parent can leak servers.
func childAttr(a account) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if a.switchUser {
		attr.Credential = &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid)}
	}
	return attr
}

// dieWithParent does nothing: there is no parent-death signal here.
func dieWithParent(*syscall.SysProcAttr) {}

// freezeAndListChildren stops pid (SIGSTOP); listing its children needs
// /proc, so it returns none.
func freezeAndListChildren(pid int) []int {
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	return nil
}

// processAlive reports whether pid exists (zombies included).
func processAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// groupAlive reports whether process group pgid has a member.
func groupAlive(pgid int) bool { return syscall.Kill(-pgid, 0) == nil }

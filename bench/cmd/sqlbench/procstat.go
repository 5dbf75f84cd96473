package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times. It
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// statFields returns the fields of /proc/PID/stat after "(comm)": index 0
// is the state, 1 the ppid, 11 utime, 12 stime, 13 cutime, 14 cstime.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return nil, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	return f, nil
}

func ticks(f []string, idx ...int) int64 {
	var n int64
	for _, i := range idx {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		n += v
	}
	return n
}

// processCPU is the user+system CPU time pid has used (all its threads,
// not its children): the process's CPU-time clock, in nanoseconds (what
// clock_getcpuclockid(3) returns), else /proc/PID/stat's ticks.
func processCPU(pid int) (time.Duration, error) {
	clock := int32((^pid)<<3 | 2) // MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, uintptr(clock), uintptr(unsafe.Pointer(&ts)), 0); errno == 0 {
		return time.Duration(ts.Nano()), nil
	}
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	return time.Duration(ticks(f, 11, 12)) * time.Second / clockTicks, nil
}

// treeCPU is the CPU time of the servers whose postmasters are roots, plus
// their live children and their reaped children (cutime, cstime): the whole
// cost of those PostgreSQL servers, backends included. Differences of two
// readings are exact as long as the postmasters live.
func treeCPU(roots []int) time.Duration {
	isRoot := map[int]bool{}
	var total int64
	for _, pid := range roots {
		isRoot[pid] = true
		if f, err := statFields(pid); err == nil {
			total += ticks(f, 11, 12, 13, 14)
		}
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || isRoot[pid] {
			continue
		}
		f, err := statFields(pid)
		if err != nil {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); isRoot[ppid] {
			total += ticks(f, 11, 12)
		}
	}
	return time.Duration(total) * time.Second / clockTicks
}

// memStatus reads VmRSS and VmHWM (peak RSS) of pid, in KiB.
func memStatus(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		switch name {
		case "VmRSS":
			rss = kb
		case "VmHWM":
			hwm = kb
		}
	}
	return rss, hwm, nil
}

// resetPeakRSS makes VmHWM start again from the current RSS (Linux
// clear_refs value 5; needs to own the process or be root). It reports
// whether that worked.
func resetPeakRSS(pid int) bool {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0) == nil
}

// postmasterPID reads the first line of a data directory's postmaster.pid.
func postmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(dataDir + "/postmaster.pid")
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

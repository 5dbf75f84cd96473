package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pgbouncerPaths are where Debian's package puts the binary, for when
// /usr/sbin is not on PATH.
var pgbouncerPaths = []string{"/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"}

func findPgBouncer() string {
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p
	}
	for _, p := range pgbouncerPaths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// ensurePgBouncer finds PgBouncer or installs Debian's package (as root).
// The package's own service is kept from starting with a temporary
// policy-rc.d, as .ci/run does for PostgreSQL.
func (h *harness) ensurePgBouncer(ctx context.Context) (string, error) {
	if p := findPgBouncer(); p != "" {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", errors.New("pgbouncer is not installed and installing it needs root (apt-get install pgbouncer)")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", errors.New("pgbouncer is not installed and apt-get is not available")
	}
	const policy = "/usr/sbin/policy-rc.d"
	if _, err := os.Stat(policy); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err == nil {
			defer os.Remove(policy)
		}
	}
	h.logger.Info("installing pgbouncer from the Debian packages")
	install := func() ([]byte, error) {
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "-q", "--no-install-recommends", "pgbouncer")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	if _, err := install(); err != nil {
		update := exec.CommandContext(ctx, "apt-get", "update", "-q")
		update.Run()
		if out, err := install(); err != nil {
			return "", fmt.Errorf("apt-get install pgbouncer: %w\n%s", err, tailString(string(out), 5))
		}
	}
	if p := findPgBouncer(); p != "" {
		return p, nil
	}
	return "", errors.New("apt-get installed pgbouncer but its binary is not found")
}

// pgbouncer is a running PgBouncer in front of one database.
type pgbouncer struct {
	proc     *daemon
	endpoint endpoint
	version  string
}

// startPgBouncer runs PgBouncer in transaction pooling mode in front of
// backend, with as many server connections as pgbench has clients, as the
// postgres OS user when we are root (PgBouncer refuses to run as root).
func (h *harness) startPgBouncer(ctx context.Context, bin string, backend endpoint) (*pgbouncer, error) {
	dir := filepath.Join(h.work, "pgbouncer")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgbouncer refuses to run as root and there is no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	config := fmt.Sprintf(`[databases]
%[1]s = host=%[2]s port=%[3]d dbname=%[1]s user=%[4]s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %[5]d
unix_socket_dir =
auth_type = trust
auth_file = %[6]s/userlist.txt
pool_mode = transaction
default_pool_size = %[7]d
max_client_conn = %[8]d
admin_users = %[4]s
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
logfile = %[6]s/pgbouncer.log
pidfile = %[6]s/pgbouncer.pid
`, backend.Database, backend.Host, backend.Port, backend.User, port, dir, h.cfg.Clients, h.cfg.IdleConns+1000)
	files := map[string]string{
		"pgbouncer.ini": config,
		"userlist.txt":  fmt.Sprintf("%q \"\"\n", backend.User),
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return nil, err
		}
		if cred != nil {
			os.Chown(path, int(cred.Uid), int(cred.Gid))
		}
	}
	pb := &pgbouncer{endpoint: endpoint{Name: "pgbouncer", Host: "127.0.0.1", Port: port, User: backend.User, Database: backend.Database}}
	if out, err := exec.CommandContext(ctx, bin, "--version").Output(); err == nil {
		pb.version = strings.TrimSpace(strings.Split(string(out), "\n")[0])
	}
	cmd := exec.Command(bin, filepath.Join(dir, "pgbouncer.ini"))
	cmd.Dir = dir
	cmd.SysProcAttr = childAttr()
	cmd.SysProcAttr.Credential = cred
	if pb.proc, err = h.daemons.start("pgbouncer", cmd, syscall.SIGTERM, filepath.Join(h.work, "pgbouncer.out")); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			return pb, nil
		}
		if pb.proc.Exited() || time.Now().After(deadline) {
			h.daemons.stop(pb.proc, 5*time.Second)
			return nil, fmt.Errorf("pgbouncer did not start: %v\n%s", err, tail(filepath.Join(dir, "pgbouncer.log"), 10))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

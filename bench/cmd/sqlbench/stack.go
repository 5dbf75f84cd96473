package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stack is a running `sqlrouter dev` deployment.
type stack struct {
	name   string
	dir    string // the --dir of sqlrouter dev
	log    string // its output
	proc   *daemon
	router endpoint
	// primaries are the clusters' primaries in order s0, s1, ...
	primaries []endpoint
	// coordinator is the scratch PostgreSQL ("" host when there is none).
	coordinator endpoint
}

// endpoint is how to reach one server.
type endpoint struct {
	Name     string
	Host     string
	Port     int
	User     string
	Database string
	// DataDir is the server's data directory (PostgreSQL only).
	DataDir string
}

// conninfo is the libpq keyword form pgbench and psql accept.
func (e endpoint) conninfo() string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", e.Host, e.Port, e.User, e.Database)
}

// url is the form pgx accepts.
func (e endpoint) url() string {
	return fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable", e.User, net.JoinHostPort(e.Host, strconv.Itoa(e.Port)), e.Database)
}

// in returns e pointed at another database.
func (e endpoint) in(database string) endpoint {
	e.Database = database
	return e
}

// clusterJSON is the part of sqlrouter dev's cluster.json the harness uses.
type clusterJSON struct {
	Router      string `json:"router"`
	Coordinator string `json:"coordinator"`
	Clusters    map[string]struct {
		Primary string `json:"primary"`
	} `json:"clusters"`
}

func parseEndpoint(name, raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("%s: %w", name, err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return endpoint{}, fmt.Errorf("%s: port of %q: %w", name, raw, err)
	}
	return endpoint{Name: name, Host: u.Hostname(), Port: port, User: u.User.Username(), Database: strings.TrimPrefix(u.Path, "/")}, nil
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startStack runs `sqlrouter dev` with the given shard map and waits until
// it has written cluster.json.
func (h *harness) startStack(ctx context.Context, name string, shards int, shardMap string) (*stack, error) {
	s := &stack{name: name, dir: filepath.Join(h.work, name), log: filepath.Join(h.work, name+".log")}
	mapPath := filepath.Join(h.work, name+"-shardmap.yaml")
	if err := os.WriteFile(mapPath, []byte(shardMap), 0o644); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(h.sqlrouter, "dev",
		"--shards", strconv.Itoa(shards),
		"--replicas", strconv.Itoa(h.cfg.Replicas),
		"--dir", s.dir,
		"--listen", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		"--shardmap", mapPath,
		"--log-level", "warn",
		// Direct PostgreSQL and PgBouncer are measured in plain text without
		// passwords: the router too, so that the comparison is fair.
		"--tls=false", "--trust")
	cmd.Env = cleanEnv()
	began := time.Now()
	if s.proc, err = h.daemons.start("sqlrouter dev ("+name+")", cmd, syscall.SIGTERM, s.log); err != nil {
		return nil, err
	}
	info := filepath.Join(s.dir, "cluster.json")
	deadline := time.After(3 * time.Minute)
	for {
		if _, err := os.Stat(info); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.proc.done:
			return nil, fmt.Errorf("sqlrouter dev exited before it was ready (%v); its output:\n%s", s.proc.err, tail(s.log, 20))
		case <-deadline:
			return nil, fmt.Errorf("sqlrouter dev not ready after 3 minutes; its output:\n%s", tail(s.log, 20))
		case <-time.After(100 * time.Millisecond):
		}
	}
	raw, err := os.ReadFile(info)
	if err != nil {
		return nil, err
	}
	var cj clusterJSON
	if err := json.Unmarshal(raw, &cj); err != nil {
		return nil, fmt.Errorf("%s: %w", info, err)
	}
	if s.router, err = parseEndpoint("router", cj.Router); err != nil {
		return nil, err
	}
	for i := range shards {
		c, ok := cj.Clusters[fmt.Sprintf("s%d", i)]
		if !ok {
			return nil, fmt.Errorf("%s: cluster s%d missing", info, i)
		}
		e, err := parseEndpoint(fmt.Sprintf("s%d", i), c.Primary)
		if err != nil {
			return nil, err
		}
		e.DataDir = filepath.Join(s.dir, fmt.Sprintf("s%d-primary", i))
		s.primaries = append(s.primaries, e)
	}
	if cj.Coordinator != "" {
		if s.coordinator, err = parseEndpoint("coordinator", cj.Coordinator); err != nil {
			return nil, err
		}
		s.coordinator.DataDir = filepath.Join(s.dir, "coordinator")
	}
	h.logger.Info("stack ready", "stack", name, "shards", shards, "router", s.router.url(), "elapsed", time.Since(began).Round(time.Millisecond))
	return s, nil
}

// postmasters lists the PIDs of every PostgreSQL server of the stack.
func (s *stack) postmasters() []int {
	var pids []int
	eps := append([]endpoint{}, s.primaries...)
	if s.coordinator.DataDir != "" {
		eps = append(eps, s.coordinator)
	}
	for _, e := range eps {
		if pid, err := postmasterPID(e.DataDir); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// routerPID is the sqlrouter process: the router itself, with the embedded
// etcd in the same process (the PostgreSQL servers are its children and
// are not counted in its CPU time).
func (s *stack) routerPID() int { return s.proc.PID() }

// stop shuts the stack down.
func (h *harness) stopStack(s *stack) error {
	if s == nil || s.proc == nil {
		return nil
	}
	err := h.daemons.stop(s.proc, 90*time.Second)
	s.proc = nil
	return err
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

package docker

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// postgresPort is where the postgres image listens unless told otherwise.
const postgresPort = 5432

// Every image can be replaced from the environment, and the file works
// with no environment at all (every variable has a default).
func TestComposeImagesAreOverridable(t *testing.T) {
	resolved, raw := loadCompose(t)
	for name, s := range raw.Services {
		if !strings.Contains(s.Image, "${") {
			t.Errorf("service %s: image %q is not taken from an environment variable", name, s.Image)
		}
		if resolved.Services[name].Image == "" {
			t.Errorf("service %s: no image", name)
		}
	}
}

// `docker compose up --wait` returns when everything is usable: every
// long-running service has a health check, dependencies exist, and each
// one-shot service is awaited by a long-running one with
// service_completed_successfully (else --wait fails when it exits).
func TestComposeWaitsForEveryService(t *testing.T) {
	c, _ := loadCompose(t)
	awaited := map[string]bool{}
	for name, s := range c.Services {
		for dep, d := range s.DependsOn {
			target, ok := c.Services[dep]
			if !ok {
				t.Errorf("service %s depends on %s, which is not a service", name, dep)
				continue
			}
			switch d.Condition {
			case "service_healthy":
				if target.Healthcheck == nil {
					t.Errorf("service %s waits for %s to be healthy, which has no health check", name, dep)
				}
			case "service_completed_successfully":
				if s.Restart != "no" {
					awaited[dep] = true
				}
			default:
				t.Errorf("service %s depends on %s with condition %q", name, dep, d.Condition)
			}
		}
	}
	for name, s := range c.Services {
		oneShot := s.Restart == "no"
		switch {
		case oneShot && !awaited[name]:
			t.Errorf("one-shot service %s is not awaited (service_completed_successfully) by a long-running service", name)
		case !oneShot && (s.Healthcheck == nil || len(s.Healthcheck.Test) < 2):
			t.Errorf("service %s has no health check", name)
		}
	}
}

// Every file the compose file mounts exists and is readable by the
// containers' users; every script passes `bash -n`; a script used as an
// entrypoint is mounted where the entrypoint looks; named volumes are
// declared.
func TestComposeMounts(t *testing.T) {
	c, _ := loadCompose(t)
	scripts := 0
	for name, s := range c.Services {
		for _, m := range s.mounts() {
			if !m.bind {
				if _, ok := c.Volumes[m.source]; !ok {
					t.Errorf("service %s: volume %s is not declared", name, m.source)
				}
				continue
			}
			info, err := os.Stat(m.source)
			if err != nil {
				t.Errorf("service %s mounts %s: %v", name, m.source, err)
				continue
			}
			if info.Mode().Perm()&0o004 == 0 {
				t.Errorf("service %s mounts %s, which other users cannot read (mode %v)", name, m.source, info.Mode())
			}
			if strings.HasSuffix(m.source, ".sh") {
				scripts++
				if out, err := exec.Command("bash", "-n", m.source).CombinedOutput(); err != nil {
					t.Errorf("bash -n %s: %v\n%s", m.source, err, out)
				}
			}
		}
		if len(s.Entrypoint) >= 2 && s.Entrypoint[0] == "bash" {
			if _, ok := s.hostFile(s.Entrypoint[1]); !ok {
				t.Errorf("service %s runs %s, which no volume mounts", name, s.Entrypoint[1])
			}
		}
	}
	if scripts == 0 {
		t.Error("no script is mounted: the replicas need their bootstrap script")
	}
}

// The shard map names compose services: each URL's host is a postgres
// service listening on the URL's port with the URL's database, each
// replica bootstraps from its own cluster's primary, and every postgres
// service of the file is in the map.
func TestComposeMatchesShardMap(t *testing.T) {
	c, _ := loadCompose(t)
	applier, file := shardmapService(t, c)
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := shardmap.Parse(doc)
	if err != nil {
		t.Fatalf("%s (applied by service %s): %v", file, applier, err)
	}
	used := map[string]string{}
	check := func(what, raw string) (service string, database string) {
		u, err := url.Parse(raw)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return "", ""
		}
		host := u.Hostname()
		s, ok := c.Services[host]
		if !ok {
			t.Errorf("%s: host %q is not a service of compose.yaml", what, host)
			return "", ""
		}
		if prev, dup := used[host]; dup {
			t.Errorf("%s and %s are both service %s", what, prev, host)
		}
		used[host] = what
		if !strings.Contains(s.Image, "postgres") {
			t.Errorf("%s: service %s runs %s, not PostgreSQL", what, host, s.Image)
		}
		listens := postgresPort
		if p, ok := settings(s.Command)["port"]; ok {
			listens, _ = strconv.Atoi(p)
		}
		if got := urlPort(u, postgresPort); got != listens {
			t.Errorf("%s: port %d, but service %s listens on %d", what, got, host, listens)
		}
		if u.Query().Get("sslmode") != "disable" {
			t.Errorf("%s: the postgres image serves no TLS: say sslmode=disable, or every connection tries TLS first", what)
		}
		return host, strings.TrimPrefix(u.Path, "/")
	}
	for _, name := range m.ClusterNames {
		cl := m.Clusters[name]
		primary, db := check("clusters."+name+".primary", cl.Primary)
		if primary == "" {
			continue
		}
		if got := c.Services[primary].Environment["POSTGRES_DB"]; got != db {
			t.Errorf("cluster %s: the map uses database %q, service %s creates %q", name, db, primary, got)
		}
		if len(cl.Replicas) == 0 {
			t.Errorf("cluster %s has no replica", name)
		}
		for i, r := range cl.Replicas {
			what := "clusters." + name + ".replicas[" + strconv.Itoa(i) + "]"
			replica, rdb := check(what, r.URL)
			if replica == "" {
				continue
			}
			env := c.Services[replica].Environment
			if env["PRIMARY_HOST"] != primary {
				t.Errorf("%s: service %s bootstraps from %q, not from its primary %s", what, replica, env["PRIMARY_HOST"], primary)
			}
			if p, _ := strconv.Atoi(env["PRIMARY_PORT"]); p != postgresPort {
				t.Errorf("%s: service %s bootstraps from port %q", what, replica, env["PRIMARY_PORT"])
			}
			if rdb != db {
				t.Errorf("%s: database %q, the primary's is %q", what, rdb, db)
			}
			if user := env["REPLICATION_USER"]; user == "" || c.Services[primary].Environment["REPLICATION_USER"] != user {
				t.Errorf("%s: replication user %q is not the one service %s creates", what, user, primary)
			}
		}
	}
	if m.Coordinator == "" {
		t.Error("the shard map has no coordinator: statements that span clusters would be refused")
	} else if coord, db := check("coordinator", m.Coordinator); coord != "" && c.Services[coord].Environment["POSTGRES_DB"] != db {
		t.Errorf("coordinator: database %q is not the one service %s creates", db, coord)
	}
	for name, s := range c.Services {
		if strings.Contains(s.Image, "postgres") && used[name] == "" {
			t.Errorf("postgres service %s is not in the shard map", name)
		}
	}
}

// A hot standby refuses to start when some settings are below its
// primary's: the replicas' command lines must keep up with the primaries'.
func TestComposeReplicaSettingsKeepUp(t *testing.T) {
	c, _ := loadCompose(t)
	defaults := map[string]int{"max_connections": 100, "max_prepared_transactions": 0, "max_locks_per_transaction": 64, "max_wal_senders": 10, "max_worker_processes": 8}
	replicas := 0
	for name, s := range c.Services {
		primary, ok := s.Environment["PRIMARY_HOST"]
		if !ok {
			continue
		}
		replicas++
		ps, rs := settings(c.Services[primary].Command), settings(s.Command)
		for setting, def := range defaults {
			value := func(m map[string]string) int {
				if v, ok := m[setting]; ok {
					n, _ := strconv.Atoi(v)
					return n
				}
				return def
			}
			if value(rs) < value(ps) {
				t.Errorf("service %s: %s = %d is below its primary's %d", name, setting, value(rs), value(ps))
			}
		}
		if settings(c.Services[primary].Command)["max_prepared_transactions"] == "" {
			t.Errorf("service %s: prepared transactions are off, and the router's two-phase commit needs them", primary)
		}
	}
	if replicas == 0 {
		t.Error("no replica service (none has PRIMARY_HOST)")
	}
}

// The router and the shard map service talk to the same etcd, under the
// same key; the router listens where the compose file publishes and where
// its health check connects, as a user its configuration knows.
func TestComposeMatchesRouterConfig(t *testing.T) {
	c, _ := loadCompose(t)
	etcd, ok := c.Services["etcd"]
	if !ok {
		t.Fatal("no etcd service")
	}
	advertised, ok := flagValue(etcd.Command, "--advertise-client-urls")
	if !ok {
		t.Fatal("etcd: no --advertise-client-urls")
	}
	au, err := url.Parse(strings.Split(advertised, ",")[0])
	if err != nil {
		t.Fatal(err)
	}
	etcdAddr := au.Host
	if au.Hostname() != "etcd" {
		t.Errorf("etcd advertises %s, not its service name", advertised)
	}
	listen, _ := flagValue(etcd.Command, "--listen-client-urls")
	if lu, err := url.Parse(listen); err != nil || lu.Port() != au.Port() {
		t.Errorf("etcd listens on %q but advertises %q", listen, advertised)
	}

	applier, _ := shardmapService(t, c)
	applyCmd := c.Services[applier].Command
	if got, _ := flagValue(applyCmd, "--etcd"); got != etcdAddr {
		t.Errorf("service %s applies the map to etcd %q, the etcd service is %s", applier, got, etcdAddr)
	}
	applyKey := shardmap.DefaultKey
	if k, ok := flagValue(applyCmd, "--key"); ok {
		applyKey = k
	}

	var name string
	var r *composeService
	for n, s := range c.Services {
		if len(s.Command) > 0 && s.Command[0] == "serve" {
			name, r = n, s
		}
	}
	if r == nil {
		t.Fatal("no service runs `sqlrouter serve`")
	}
	cfgPath, ok := flagValue(r.Command, "--config")
	if !ok {
		t.Fatalf("service %s: serve without --config", name)
	}
	file, ok := r.hostFile(cfgPath)
	if !ok {
		t.Fatalf("service %s reads %s, which no volume mounts", name, cfgPath)
	}
	cfg, err := loadRouterConfig(file, r.Environment) // as the container sees it
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("%s: %v", file, err)
	}
	if !slices.Equal(cfg.Etcd.Endpoints, []string{etcdAddr}) {
		t.Errorf("router etcd.endpoints %v, the etcd service is %s", cfg.Etcd.Endpoints, etcdAddr)
	}
	if key := cmp(cfg.Etcd.Key, shardmap.DefaultKey); key != applyKey {
		t.Errorf("router reads the map at %s, service %s writes %s", key, applier, applyKey)
	}
	if cfg.Backend.Password == "" {
		t.Error("the router has no password for the shards (SQLROUTER_BACKEND_PASSWORD), whose images require one")
	}
	host, port := splitHostPort(t, cfg.Listen)
	if host != "0.0.0.0" && host != "" {
		t.Errorf("router listens on %s: unreachable from outside its container", cfg.Listen)
	}
	published := false
	for _, p := range r.Ports {
		target := p[strings.LastIndex(p, ":")+1:]
		if target == strconv.Itoa(port) {
			published = true
		}
	}
	if !published {
		t.Errorf("the router listens on port %d, which ports %v do not publish", port, r.Ports)
	}

	// The health check logs in: as a configured user, with its password.
	hc, err := url.Parse(r.Environment["SQLROUTER_HEALTHCHECK_URL"])
	if err != nil || hc.Host == "" {
		t.Fatalf("service %s: SQLROUTER_HEALTHCHECK_URL %q", name, r.Environment["SQLROUTER_HEALTHCHECK_URL"])
	}
	if hc.Hostname() != "127.0.0.1" || urlPort(hc, 0) != port {
		t.Errorf("the health check connects to %s, the router listens on port %d", hc.Host, port)
	}
	if len(r.Healthcheck.Test) < 2 || r.Healthcheck.Test[1] != "/usr/local/bin/sqlrouter-healthcheck" {
		t.Errorf("router health check %v does not run /usr/local/bin/sqlrouter-healthcheck", r.Healthcheck.Test)
	}
	pw, _ := hc.User.Password()
	found := false
	for _, u := range cfg.Auth.Users {
		if u.Name == hc.User.Username() {
			found = true
			if !strings.HasPrefix(u.Password, "SCRAM-SHA-256$") && u.Password != pw {
				t.Errorf("the health check's password for %s is not the configured one", u.Name)
			}
		}
	}
	if !found && len(cfg.Auth.Users) > 0 {
		t.Errorf("the health check logs in as %q, who is not in auth.users", hc.User.Username())
	}
}

// shardmapService finds the service that runs `sqlrouter shardmap apply
// FILE` and the file of docker/ mounted there.
func shardmapService(t *testing.T, c *composeFile) (name, hostFile string) {
	t.Helper()
	for n, s := range c.Services {
		if len(s.Command) >= 3 && s.Command[0] == "shardmap" && s.Command[1] == "apply" {
			f, ok := s.hostFile(s.Command[2])
			if !ok {
				t.Fatalf("service %s applies %s, which no volume mounts", n, s.Command[2])
			}
			return n, filepath.Clean(f)
		}
	}
	t.Fatal("no service runs `sqlrouter shardmap apply`")
	return "", ""
}

// cmp returns v, or def when v is empty.
func cmp(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

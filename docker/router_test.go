package docker

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/sqlrouter/sqlrouter/devstack"
	"github.com/sqlrouter/sqlrouter/localdeploy"
	"github.com/sqlrouter/sqlrouter/router"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// The router as the compose file runs it (docker/sqlrouter.yaml and the
// service's environment), against local servers in place of the
// containers and docker/shardmap.yaml pointed at them: its health check
// fails until the shard map is stored and passes after, refuses a wrong
// password, and docker/example.sql runs through it, twice.
func TestRouterAsComposed(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	healthcheck := filepath.Join(t.TempDir(), "sqlrouter-healthcheck")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", healthcheck, "./healthcheck").CombinedOutput(); err != nil {
		t.Fatalf("build the health check: %v\n%s", err, out)
	}

	dep, err := localdeploy.Start(ctx, localdeploy.Options{Dir: t.TempDir(), Coordinator: true, Etcd: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dep.Stop(sctx); err != nil {
			t.Error(err)
		}
	})

	c, _ := loadCompose(t)
	svc := c.Services["router"]
	// The service's environment, and what differs outside Docker set the
	// way a user would, through the environment.
	env := maps.Clone(svc.Environment)
	env["SQLROUTER_LISTEN"] = "127.0.0.1:0"
	env["SQLROUTER_ETCD_ENDPOINTS"] = strings.Join(dep.Etcd.Endpoints(), ",")
	cfg, err := loadRouterConfig("sqlrouter.yaml", env)
	if err != nil {
		t.Fatal(err)
	}
	r, err := router.Start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r.Shutdown(sctx)
	})

	check := func(rawURL string) (string, error) {
		u, err := url.Parse(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		u.Host = r.Addr()
		cmd := exec.CommandContext(ctx, healthcheck)
		cmd.Env = append(cleanEnv(), "SQLROUTER_HEALTHCHECK_URL="+u.String())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	hcURL := svc.Environment["SQLROUTER_HEALTHCHECK_URL"]
	if out, err := check(hcURL); err == nil || !strings.Contains(out, "57P03") {
		t.Errorf("health check before any shard map: %v, %s (want a failure with 57P03)", err, out)
	}

	doc, err := os.ReadFile("shardmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	local, err := devstack.AdaptMap(doc, dep)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: dep.Etcd.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := shardmap.Apply(ctx, cli, cmp(cfg.Etcd.Key, shardmap.DefaultKey), local); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := check(hcURL); err != nil {
		t.Errorf("health check with a shard map: %v\n%s", err, out)
	}
	wrong, _ := url.Parse(hcURL)
	wrong.User = url.UserPassword(wrong.User.Username(), "wrong")
	if out, err := check(wrong.String()); err == nil || !strings.Contains(out, "28P01") {
		t.Errorf("health check with a wrong password: %v, %s (want a failure with 28P01)", err, out)
	}

	// The compose quick start, step by step (the URL of docs and README).
	bin, err := localdeploy.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	appURL := "postgres://app:app@" + r.Addr() + "/app?sslmode=disable"
	want := []string{
		"2|Bob|us",
		"Ann|France|35.50",
		"fr|2", "jp|1", "us|1",
	}
	for run := 1; run <= 2; run++ {
		psql := exec.CommandContext(ctx, bin.Path("psql"), "-X", "-q", "-A", "-t", "-F", "|", "-f", "example.sql", appURL)
		psql.Env = cleanEnv()
		var out bytes.Buffer
		psql.Stdout, psql.Stderr = &out, &out
		if err := psql.Run(); err != nil {
			t.Fatalf("psql -f example.sql (run %d): %v\n%s", run, err, out.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		for _, w := range want {
			if !contains(lines, w) {
				t.Errorf("run %d: psql printed no line %q:\n%s", run, w, out.String())
			}
		}
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

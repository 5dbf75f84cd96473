package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/localdeploy"
	"github.com/sqlrouter/sqlrouter/router"
)

// run runs the command line in-process.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := rootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestShardmapValidate(t *testing.T) {
	out, err := run(t, "shardmap", "validate", "../../schemas/examples/example.yaml")
	if err != nil || !strings.Contains(out, "valid (2 clusters, 3 distributions, 4 tables)") {
		t.Errorf("valid example: %v\n%s", err, out)
	}
	bad := writeFile(t, "bad.yaml", "version: 1\nclusters:\n  s0: {primary: 'postgres://a@h/db'}\ndistributions:\n  d: {type: hash, key_type: bigint, shards: [s0, s9]}\ntables: {}\n")
	_, err = run(t, "shardmap", "validate", bad)
	if err == nil || !strings.Contains(err.Error(), `distributions.d.shards[1]: unknown cluster "s9"`) {
		t.Errorf("invalid map: %v", err)
	}
}

// apply refuses an invalid map and leaves the stored one; get prints what
// is stored; serve routes with it.
func TestShardmapApplyGetAndServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	etcd, err := localdeploy.StartEtcd(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Stop()
	pg := localdeploy.StartTestPostgres(t)
	endpoints := strings.Join(etcd.Endpoints(), ",")
	good := writeFile(t, "good.yaml", fmt.Sprintf("version: 1\nclusters:\n  s0: {primary: '%s'}\ndistributions:\n  d: {type: hash, key_type: bigint, shards: [s0]}\ntables:\n  t: {distribution: d, key: id}\n", pg.DSN("app")))
	if out, err := run(t, "shardmap", "apply", good, "--etcd", endpoints); err != nil || !strings.Contains(out, "stored") {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	bad := writeFile(t, "bad.yaml", "version: 1\nclusters: {}\nbogus: 1\n")
	if _, err := run(t, "shardmap", "apply", bad, "--etcd", endpoints); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("apply of an invalid map: %v", err)
	}
	out, err := run(t, "shardmap", "get", "--etcd", endpoints)
	if err != nil || !strings.Contains(out, pg.DSN("app")) || strings.Contains(out, "bogus") {
		t.Errorf("get after a refused apply: %v\n%s", err, out)
	}

	// serve, configured through a file and the environment.
	cfgFile := writeFile(t, "sqlrouter.yaml", "listen: 127.0.0.1:0\nlog:\n  level: warn\n")
	t.Setenv("SQLROUTER_ETCD_ENDPOINTS", endpoints)
	cfg, err := loadConfig(cfgFile, serveCommand().Flags(), serveFlags)
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	started := make(chan *router.Router, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(sctx, cfg, slog.New(slog.DiscardHandler), func(r *router.Router) { started <- r })
	}()
	var r *router.Router
	select {
	case r = <-started:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, "postgres://app@"+r.Addr()+"/app?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "CREATE TABLE t (id bigint PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO t (id) VALUES (1), (2)"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	stop()
	if err := <-done; err != nil {
		t.Errorf("serve ended with %v", err)
	}
}

package crashtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/sqlrouter/sqlrouter/localdeploy"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// dep is the package's deployment: two clusters (s0, s1) with one
// streaming replica each, and etcd. Primaries load pg_stat_statements, so
// that tests can count the commands a router sent them.
var dep *localdeploy.Deployment

// routerBin is the sqlrouter binary built for the package.
var routerBin string

// mapKey is the etcd key of the shard map every test router reads.
const mapKey = "/crashtest/shardmap"

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sqlrouter-crashtest-bin-*")
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	routerBin = filepath.Join(dir, "sqlrouter")
	if err := buildRouter(routerBin); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: build sqlrouter: %v\n", err)
		return 1
	}
	return localdeploy.RunTests(m, localdeploy.Options{
		Shards:   2,
		Replicas: 1,
		Etcd:     true,
		Settings: map[string]string{"shared_preload_libraries": "pg_stat_statements"},
	}, &dep)
}

// buildRouter builds cmd/sqlrouter into bin with the go command that runs
// the tests.
func buildRouter(bin string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "github.com/sqlrouter/sqlrouter/cmd/sqlrouter").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return nil
}

// shardMap distributes the tests' tables by hash over s0 and s1: accounts
// by id, the ledger by the account money leaves (co-located with it, so a
// transfer touches exactly the clusters of its two accounts), and items.
func shardMap() []byte {
	return shardMapWith(dep.Clusters[0].Primary.DSN("app"))
}

// shardMapWith is shardMap with s0's primary at another URL.
func shardMapWith(s0Primary string) []byte {
	return fmt.Appendf(nil, `version: 1
clusters:
  s0:
    primary: %s
    replicas:
      - url: %s
  s1:
    primary: %s
    replicas:
      - url: %s
default_cluster: s0
distributions:
  by_account:
    type: hash
    key_type: bigint
    shards: [s0, s1]
tables:
  accounts: {distribution: by_account, key: id}
  ledger:   {distribution: by_account, key: from_id}
  items:    {distribution: by_account, key: id}
`, s0Primary, dep.Clusters[0].Replicas[0].DSN("app"),
		dep.Clusters[1].Primary.DSN("app"), dep.Clusters[1].Replicas[0].DSN("app"))
}

var (
	setupOnce sync.Once
	setupErr  error
	etcdCli   *clientv3.Client
)

// setup stores the shard map in etcd and installs pg_stat_statements on
// the primaries, once for the package.
func setup(t testing.TB) {
	t.Helper()
	setupOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		etcdCli, setupErr = clientv3.New(clientv3.Config{Endpoints: dep.Etcd.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if setupErr != nil {
			return
		}
		if _, setupErr = shardmap.Apply(ctx, etcdCli, mapKey, shardMap()); setupErr != nil {
			return
		}
		for _, c := range dep.Clusters {
			conn, err := pgx.Connect(ctx, c.Primary.DSN("app"))
			if err != nil {
				setupErr = err
				return
			}
			_, setupErr = conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
			conn.Close(ctx)
			if setupErr != nil {
				return
			}
		}
	})
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
}

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/sqlrouter/sqlrouter/devstack"
	"github.com/sqlrouter/sqlrouter/localdeploy"
	"github.com/sqlrouter/sqlrouter/router"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// revision asks a session which shard map revision it routes with.
func revision(t testing.TB, c *pgx.Conn) string {
	t.Helper()
	var rev string
	if err := c.QueryRow(ctxT(t), "SHOW sqlrouter.shardmap_revision").Scan(&rev); err != nil {
		t.Fatal(err)
	}
	return rev
}

// waitRevision polls a live session until it routes with a new revision.
func waitRevision(t testing.TB, c *pgx.Conn, old string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if rev := revision(t, c); rev != old {
			return rev
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the session still routes with revision %s", old)
	return ""
}

// A new shard map stored in etcd reaches a session that stays connected:
// with the hash ranges of the two clusters swapped, the same key lands on
// the other cluster. An invalid document written straight into etcd is
// ignored and the last good map stays.
func TestShardMapChangeReachesLiveSession(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	doc, _, err := shardmap.Get(ctx, stack.Etcd, stack.MapKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		rev, err := shardmap.Apply(context.Background(), stack.Etcd, stack.MapKey, doc)
		if err != nil {
			t.Errorf("restore map: %v", err)
		}
		for deadline := time.Now().Add(10 * time.Second); stack.Router.Snapshot().Revision < rev && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	})
	id := keyOn(t, "s0")
	mustExec(t, c, "INSERT INTO customers (id, name) VALUES ($1, 'before')", id)
	assertPlacedOn(t, "customers", "id", id, "s0")

	rev := revision(t, c)
	swapped := strings.Replace(string(doc), "shards: [s0, s1]", "shards: [s1, s0]", 1)
	if swapped == string(doc) {
		t.Fatalf("test map has no 'shards: [s0, s1]':\n%s", doc)
	}
	if _, err := shardmap.Apply(ctx, stack.Etcd, stack.MapKey, []byte(swapped)); err != nil {
		t.Fatal(err)
	}
	rev = waitRevision(t, c, rev)
	if ownerOf(t, id) != "s1" {
		t.Fatalf("after the swap key %d belongs to %s", id, ownerOf(t, id))
	}
	id2 := id + 0 // same key: now it must go to s1
	if _, err := c.Exec(ctx, "DELETE FROM customers WHERE id = $1", id2); err != nil {
		t.Fatal(err)
	}
	if countOn(t, "s0", "customers", "id", id) != 1 {
		t.Error("the DELETE went to s0 after the map moved the key to s1")
	}
	mustExec(t, c, "INSERT INTO customers (id, name) VALUES ($1, 'after')", id)
	if countOn(t, "s1", "customers", "id", id) != 1 {
		t.Error("the INSERT did not go to s1 under the new map")
	}

	// Garbage written straight into etcd: logged, ignored.
	if _, err := stack.Etcd.Put(ctx, stack.MapKey, "version: 1\nclusters: {s0: {primary: 'x'}}\nbogus: [\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if got := revision(t, c); got != rev {
		t.Errorf("an invalid document replaced the map: revision %s -> %s", rev, got)
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM customers WHERE id = $1", id).Scan(&n); err != nil || n != 1 {
		t.Errorf("routing after the invalid document: %d %v", n, err)
	}
	primary(t, "s0").Exec(ctx, "DELETE FROM customers WHERE id = $1", id)
}

// A router whose etcd goes away keeps routing with its last good map.
func TestRoutingSurvivesEtcdLoss(t *testing.T) {
	ctx := ctxT(t)
	etcd, err := localdeploy.StartEtcd(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Stop()
	cli, err := clientv3.New(clientv3.Config{Endpoints: etcd.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := shardmap.Apply(ctx, cli, shardmap.DefaultKey, devstack.ExampleMap(stack.Deployment)); err != nil {
		t.Fatal(err)
	}
	r, err := router.Start(ctx, router.Config{Listen: "127.0.0.1:0", Etcd: router.EtcdConfig{Endpoints: etcd.Endpoints(), DialTimeout: time.Second}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown(context.Background())
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	etcd.Stop()
	c, err := pgx.Connect(ctx, dsnFor(r, "app", ""))
	if err != nil {
		t.Fatalf("connect after etcd stopped: %v", err)
	}
	defer c.Close(ctx)
	id := keyOn(t, "s1")
	if _, err := c.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'no etcd')", id); err != nil {
		t.Fatal(err)
	}
	assertPlacedOn(t, "customers", "id", id, "s1")
}

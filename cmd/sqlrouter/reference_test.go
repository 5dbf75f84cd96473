package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/localdeploy"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// reference sync copies the reference tables to the syncing cluster named
// and leaves it active in the stored map; an active cluster is refused.
func TestReferenceSync(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	etcd, err := localdeploy.StartEtcd(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Stop()
	src, dst := localdeploy.StartTestPostgres(t), localdeploy.StartTestPostgres(t)
	for i, pg := range []*localdeploy.Postgres{src, dst} {
		c, err := pgx.Connect(ctx, pg.DSN("app"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		sqls := []string{"CREATE TABLE codes (code text PRIMARY KEY, label text)"}
		if i == 0 {
			sqls = append(sqls, "INSERT INTO codes VALUES ('a', 'one'), ('b', NULL), ('c', E'tab\\there')")
		}
		for _, sql := range sqls {
			if _, err := c.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
	}
	endpoints := strings.Join(etcd.Endpoints(), ",")
	doc := fmt.Sprintf("version: 1\nclusters:\n  s0: {primary: '%s'}\n  s1:\n    primary: '%s'\n    state: syncing\ntables:   # copied to every cluster\n  codes: {reference: true}\n", src.DSN("app"), dst.DSN("app"))
	if out, err := run(t, "shardmap", "apply", writeFile(t, "map.yaml", doc), "--etcd", endpoints); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	out, err := run(t, "reference", "sync", "--cluster", "s1", "--etcd", endpoints, "--settle", "0s")
	if err != nil || !strings.Contains(out, "public.codes: 3 rows copied from s0") || !strings.Contains(out, "cluster s1 is active") {
		t.Fatalf("reference sync: %v\n%s", err, out)
	}
	c, err := pgx.Connect(ctx, dst.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	var label string
	if err := c.QueryRow(ctx, "SELECT count(*), max(label) FILTER (WHERE code = 'c') FROM codes").Scan(&n, &label); err != nil || n != 3 || label != "tab\there" {
		t.Fatalf("the new copy: %d rows, %q, %v", n, label, err)
	}
	stored, err := run(t, "shardmap", "get", "--etcd", endpoints)
	if err != nil {
		t.Fatal(err)
	}
	m, err := shardmap.Parse([]byte(stored[strings.Index(stored, "version"):]))
	if err != nil || m.Clusters["s1"].Syncing || !strings.Contains(stored, "# copied to every cluster") {
		t.Fatalf("the stored map after the sync (comments kept, s1 active):\n%s\n%v", stored, err)
	}
	if _, err := run(t, "reference", "sync", "--cluster", "s1", "--etcd", endpoints, "--settle", "0s"); err == nil || !strings.Contains(err.Error(), "not syncing") {
		t.Errorf("sync of an active cluster: %v", err)
	}
	if _, err := run(t, "reference", "sync", "--etcd", endpoints); err == nil || !strings.Contains(err.Error(), "--cluster") {
		t.Errorf("sync without --cluster: %v", err)
	}
}

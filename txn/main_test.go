package txn

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/sqlrouter/sqlrouter/localdeploy"
)

// dep is the package's deployment: two primaries without replicas, s0 and
// s1, and etcd.
var dep *localdeploy.Deployment

func TestMain(m *testing.M) {
	os.Exit(localdeploy.RunTests(m, localdeploy.Options{Shards: 2, Replicas: localdeploy.None, Etcd: true}, &dep))
}

// testContext returns a context that ends with the test or after a minute.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// testEtcd returns an etcd client and a key prefix of the test's own,
// deleted when the test ends.
func testEtcd(t testing.TB) (*clientv3.Client, string) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: dep.Etcd.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	prefix := "/test/" + strings.ReplaceAll(t.Name(), "/", "_") + "/"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cli.Delete(ctx, prefix, clientv3.WithPrefix())
		cli.Close()
	})
	return cli, prefix
}

// primaries returns the deployment's primaries, as Recovery wants them.
func primaries() map[string]string {
	out := map[string]string{}
	for _, c := range dep.Clusters {
		out[c.Name] = c.Primary.DSN("app")
	}
	return out
}

// connect opens a session to a cluster's primary, closed when the test
// ends.
func connect(ctx context.Context, t *testing.T, cluster string) *pgconn.PgConn {
	t.Helper()
	conn, err := pgconn.Connect(ctx, primaries()[cluster])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// exec runs sql and fails the test on error.
func exec(ctx context.Context, t *testing.T, conn *pgconn.PgConn, sql string) [][][]byte {
	t.Helper()
	results, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return results[len(results)-1].Rows
}

// resetPrimaries gives the test an empty txn_rows table on every primary,
// and when the test ends rolls back whatever it left prepared, so that
// tests do not see each other's transactions.
func resetPrimaries(t *testing.T) {
	t.Helper()
	ctx := testContext(t)
	clean := func(ctx context.Context) {
		for cluster := range primaries() {
			conn, err := pgconn.Connect(ctx, primaries()[cluster])
			if err != nil {
				t.Errorf("clean up %s: %v", cluster, err)
				continue
			}
			results, err := conn.Exec(ctx, `SELECT gid FROM pg_prepared_xacts WHERE database = current_database()`).ReadAll()
			if err == nil {
				for _, row := range results[0].Rows {
					conn.Exec(ctx, "ROLLBACK PREPARED "+quote(string(row[0]))).ReadAll()
				}
			}
			conn.Exec(ctx, `DROP TABLE IF EXISTS txn_rows; CREATE TABLE txn_rows (tx text, cluster text)`).ReadAll()
			conn.Close(ctx)
		}
	}
	clean(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		clean(ctx)
	})
}

// preparedGIDs returns the GIDs prepared on each primary, in order.
func preparedGIDs(ctx context.Context, t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for cluster := range primaries() {
		conn := connect(ctx, t, cluster)
		for _, row := range exec(ctx, t, conn, `SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER BY gid`) {
			out[cluster] = append(out[cluster], string(row[0]))
		}
		conn.Close(ctx)
	}
	return out
}

// pgParticipant is a real backend session as a txn.Participant.
type pgParticipant struct {
	cluster string
	conn    *pgconn.PgConn
}

func (p *pgParticipant) Cluster() string { return p.cluster }

func (p *pgParticipant) Exec(ctx context.Context, sql string) error {
	_, err := p.conn.Exec(ctx, sql).ReadAll()
	return err
}

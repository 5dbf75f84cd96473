package e2e

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/sqlrouter/sqlrouter/certgen"
	"github.com/sqlrouter/sqlrouter/localdeploy"
	"github.com/sqlrouter/sqlrouter/router"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// startTLSPostgres starts a PostgreSQL server that serves TLS with a
// certificate from a new CA, and returns the server and the CA file.
func startTLSPostgres(t *testing.T) (*localdeploy.Postgres, string) {
	t.Helper()
	bin, err := localdeploy.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	pg, err := localdeploy.StartPostgres(ctxT(t), bin, localdeploy.PostgresOptions{DataDir: filepath.Join(t.TempDir(), "tls-pg")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pg.Stop(ctx)
	})
	ca, err := certgen.NewCA("shards CA")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.Issue("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	// ssl_cert_file and ssl_key_file default to these names in the data
	// directory; the key must belong to the server's OS user.
	certFile, keyFile := filepath.Join(pg.DataDir(), "server.crt"), filepath.Join(pg.DataDir(), "server.key")
	if err := pair.Write(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, f := range []string{certFile, keyFile} {
			if err := os.Chown(f, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	c, err := pgx.Connect(ctxT(t), pg.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctxT(t))
	mustExec(t, c, "ALTER SYSTEM SET ssl = on")
	mustExec(t, c, "SELECT pg_reload_conf()")
	caFile := filepath.Join(t.TempDir(), "shards-ca.crt")
	if err := os.WriteFile(caFile, ca.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	// The reload is asynchronous: wait until the server offers TLS.
	deadline := time.Now().Add(20 * time.Second)
	for {
		tc, err := pgx.Connect(ctxT(t), strings.Replace(pg.DSN("app"), "sslmode=disable", "sslmode=require", 1))
		if err == nil {
			tc.Close(ctxT(t))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server does not offer TLS after a reload: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return pg, caFile
}

// backendSSL asks, through a router, whether its session on the default
// cluster uses TLS.
func backendSSL(t *testing.T, r *router.Router) (bool, error) {
	t.Helper()
	c, err := pgx.Connect(ctxT(t), dsnFor(r, "app", ""))
	if err != nil {
		return false, err
	}
	defer c.Close(ctxT(t))
	var ssl bool
	err = c.QueryRow(ctxT(t), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl)
	return ssl, err
}

// TLS to the shards follows the URL's sslmode (libpq's default prefer
// uses TLS when offered) and the backend configuration, per cluster:
// verify-full against the shards' CA works, against another CA it fails.
// A server without TLS is still reached with prefer (the plain-text
// attempt is kept), and refused with require.
func TestBackendTLS(t *testing.T) {
	pg, caFile := startTLSPostgres(t)
	otherCA, _, _ := writeCA(t, t.TempDir())
	key := "/sqlrouter/test/backend-tls"
	doc := fmt.Sprintf("version: 1\nclusters:\n  tls0:\n    primary: postgres://postgres@127.0.0.1:%d/app\ndefault_cluster: tls0\n", pg.Port())
	cli, err := clientv3.New(clientv3.Config{Endpoints: stack.Deployment.Etcd.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := shardmap.Apply(ctxT(t), cli, key, []byte(doc)); err != nil {
		t.Fatal(err)
	}
	onTLSShard := func(b router.BackendConfig) func(*router.Config) {
		return func(c *router.Config) { c.Etcd.Key = key; c.Backend = b }
	}
	for _, tc := range []struct {
		name    string
		backend router.BackendConfig
		wantSSL bool
		wantErr string
	}{
		{"the URL's default (prefer)", router.BackendConfig{}, true, ""},
		{"verify-full for the cluster", router.BackendConfig{Clusters: map[string]router.Credentials{"tls0": {SSLMode: "verify-full", SSLRootCert: caFile}}}, true, ""},
		{"verify-full for all, another CA", router.BackendConfig{SSLMode: "verify-full", SSLRootCert: otherCA}, false, "certificate"},
		{"disable", router.BackendConfig{SSLMode: "disable"}, false, ""},
	} {
		ssl, err := backendSSL(t, startRouter(t, onTLSShard(tc.backend)))
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: %v, want an error about the %s", tc.name, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || ssl != tc.wantSSL):
			t.Errorf("%s: ssl %v, %v; want ssl %v", tc.name, ssl, err, tc.wantSSL)
		}
	}

	// The shared stack's servers serve no TLS.
	plain := func(mode string) func(*router.Config) {
		return func(c *router.Config) { c.Backend.SSLMode = mode }
	}
	if ssl, err := backendSSL(t, startRouter(t, plain("prefer"))); err != nil || ssl {
		t.Errorf("prefer against a server without TLS: ssl %v, %v; want plain text", ssl, err)
	}
	if _, err := backendSSL(t, startRouter(t, plain("require"))); err == nil {
		t.Error("require against a server without TLS connected")
	}
}

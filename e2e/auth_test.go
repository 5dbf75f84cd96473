package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/router"
)

// startRouter starts an extra router on the shared stack's etcd with its
// own configuration; it is stopped when the test ends.
func startRouter(t testing.TB, adjust func(*router.Config)) *router.Router {
	t.Helper()
	cfg := router.Config{Listen: "127.0.0.1:0", Etcd: router.EtcdConfig{Endpoints: stack.Deployment.Etcd.Endpoints(), Key: stack.MapKey}}
	if adjust != nil {
		adjust(&cfg)
	}
	r, err := router.Start(ctxT(t), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Shutdown(ctx)
	})
	if err := r.WaitReady(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	return r
}

func dsnFor(r *router.Router, user, password string) string {
	host, port, _ := net.SplitHostPort(r.Addr())
	return fmt.Sprintf("postgres://%s:%s@%s:%s/app?sslmode=disable", user, password, host, port)
}

// Clients log in with SCRAM-SHA-256, with a password from the
// configuration or a secret copied from PostgreSQL's pg_authid; a failed
// login gets 28P01 whether the user or the password was wrong.
func TestSCRAMAuthentication(t *testing.T) {
	ctx := ctxT(t)
	// A secret exactly as PostgreSQL stores it.
	pc := primary(t, "s0")
	mustExec(t, pc, "SET password_encryption = 'scram-sha-256'")
	mustExec(t, pc, "CREATE ROLE scram_probe PASSWORD 'from-postgres'")
	defer primary(t, "s0").Exec(ctx, "DROP ROLE scram_probe")
	var secret string
	if err := pc.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_probe'").Scan(&secret); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "SCRAM-SHA-256$") {
		t.Fatalf("unexpected secret %q", secret)
	}
	r := startRouter(t, func(c *router.Config) {
		c.Auth = router.AuthConfig{Method: "scram-sha-256", Users: []router.UserConfig{
			{Name: "alice", Password: "wonderland"},
			{Name: "bob", Password: secret},
		}}
	})
	for _, tc := range []struct{ user, password string }{{"alice", "wonderland"}, {"bob", "from-postgres"}} {
		c, err := pgx.Connect(ctx, dsnFor(r, tc.user, tc.password))
		if err != nil {
			t.Errorf("%s: %v", tc.user, err)
			continue
		}
		var one int
		if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Errorf("%s: %v", tc.user, err)
		}
		c.Close(ctx)
	}
	loginFailures(t, r, [][2]string{{"alice", "wrong"}, {"mallory", "wonderland"}, {"bob", ""}})
}

// Startup reports the server's parameters and a cancel key.
func TestStartupParameters(t *testing.T) {
	c := connect(t)
	pc := c.PgConn()
	if v := pc.ParameterStatus("server_version"); !strings.HasPrefix(v, "15") {
		t.Errorf("server_version %q", v)
	}
	for _, p := range []string{"client_encoding", "DateStyle", "TimeZone", "integer_datetimes", "standard_conforming_strings"} {
		if pc.ParameterStatus(p) == "" {
			t.Errorf("no ParameterStatus %s", p)
		}
	}
	if pc.PID() == 0 || len(pc.SecretKey()) == 0 {
		t.Error("no BackendKeyData")
	}
	// Startup options reach the backends.
	cfg, _ := pgx.ParseConfig(stack.RouterDSN())
	cfg.RuntimeParams["application_name"] = "startup-test"
	cfg.RuntimeParams["options"] = "-c work_mem=7MB"
	c2, err := pgx.ConnectConfig(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(ctxT(t))
	var app, wm string
	c2.QueryRow(ctxT(t), "SELECT current_setting('application_name'), current_setting('work_mem') FROM (SELECT 1) s LEFT JOIN customers ON id = $1", keyOn(t, "s1")).Scan(&app, &wm)
	if app != "startup-test" || wm != "7MB" {
		t.Errorf("startup parameters on s1: application_name %q work_mem %q", app, wm)
	}
	// An encoding the router cannot read is refused at startup.
	cfg.RuntimeParams["client_encoding"] = "LATIN1"
	if _, err := pgx.ConnectConfig(ctxT(t), cfg); sqlstate(err) != "0A000" {
		t.Errorf("client_encoding LATIN1: %v", err)
	}
}

// A cancel request stops the statement running on the backend.
func TestCancel(t *testing.T) {
	c := connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := c.Exec(ctx, "SELECT pg_sleep(20) FROM (SELECT 1) s LEFT JOIN customers ON id = $1", keyOn(t, "s1"))
	if err == nil {
		t.Fatal("the statement was not canceled")
	}
	if time.Since(began) > 10*time.Second {
		t.Errorf("cancel took %v", time.Since(began))
	}
	// pgx closes a connection whose query was interrupted; a raw cancel
	// keeps the session: the statement fails with 57014.
	assertCancels(t, connect(t))
}

// assertCancels runs a long statement on c, cancels it with a
// CancelRequest, and checks that it fails with 57014 and that the session
// goes on.
func assertCancels(t *testing.T, c *pgx.Conn) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(context.Background(), "SELECT pg_sleep(20)")
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	if err := c.PgConn().CancelRequest(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if sqlstate(err) != "57014" {
			t.Errorf("canceled statement: %v, want 57014", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancel did not stop the statement")
	}
	var one int
	if err := c.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil {
		t.Errorf("session after cancel: %v", err)
	}
}

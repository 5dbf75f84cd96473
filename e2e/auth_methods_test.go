package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/router"
)

// roleSecret creates a role on s0 with password_encryption set to method
// and returns the secret PostgreSQL stored for it.
func roleSecret(t *testing.T, role, password, method string) string {
	t.Helper()
	pc := primary(t, "s0")
	mustExec(t, pc, "SET password_encryption = '"+method+"'")
	mustExec(t, pc, "CREATE ROLE "+role+" PASSWORD '"+password+"'")
	t.Cleanup(func() { primary(t, "s0").Exec(ctxT(t), "DROP ROLE "+role) })
	var secret string
	if err := pc.QueryRow(ctxT(t), "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&secret); err != nil {
		t.Fatal(err)
	}
	return secret
}

// firstAuthRequest sends a plain-text startup for user and returns the
// router's first authentication request.
func firstAuthRequest(t *testing.T, addr, user string) pgproto3.BackendMessage {
	t.Helper()
	nc := dialAddr(t, addr)
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": user, "database": "app"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	msg, err := fe.Receive()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// loginFailures tries each bad login and checks that all get 28P01 with
// the same message (user names aside) that never repeats the password.
func loginFailures(t *testing.T, r *router.Router, bad [][2]string) {
	t.Helper()
	var first string
	for _, b := range bad {
		user, password := b[0], b[1]
		_, err := pgx.Connect(ctxT(t), dsnFor(r, user, password))
		if sqlstate(err) != "28P01" {
			t.Errorf("%s with a bad password: %v, want 28P01", user, err)
			continue
		}
		if password != "" && strings.Contains(err.Error(), password) {
			t.Errorf("the error repeats the password: %v", err)
		}
		// What the router said (the driver adds the method it used).
		m := strings.ReplaceAll(serverMessage(err), user, "USER")
		if first == "" {
			first = m
		} else if m != first {
			t.Errorf("failed logins differ, telling users apart:\n%s\n%s", first, m)
		}
	}
}

// With auth.method md5, users with a plain password or an MD5 secret
// (as PostgreSQL stores it) get the MD5 challenge, users with only a SCRAM
// secret get SCRAM, unknown users the MD5 challenge; every good password
// logs in and every bad login gets the same 28P01.
func TestMD5Authentication(t *testing.T) {
	md5Secret := roleSecret(t, "md5_probe", "md5-from-postgres", "md5")
	if !strings.HasPrefix(md5Secret, "md5") {
		t.Fatalf("unexpected secret %q", md5Secret)
	}
	scramSecret := roleSecret(t, "scram_probe2", "scram-from-postgres", "scram-sha-256")
	r := startRouter(t, func(c *router.Config) {
		c.Auth = router.AuthConfig{Method: "md5", Users: []router.UserConfig{
			{Name: "alice", Password: "wonderland"},
			{Name: "md5_probe", Password: md5Secret},
			{Name: "carol", Password: scramSecret},
		}}
	})
	for user, want := range map[string]string{"alice": "md5", "md5_probe": "md5", "carol": "sasl", "mallory": "md5"} {
		var got string
		switch m := firstAuthRequest(t, r.Addr(), user).(type) {
		case *pgproto3.AuthenticationMD5Password:
			got = "md5"
		case *pgproto3.AuthenticationSASL:
			got = "sasl"
		default:
			got = fmt.Sprintf("%T", m)
		}
		if got != want {
			t.Errorf("%s was asked for %s, want %s", user, got, want)
		}
	}
	for _, good := range [][2]string{{"alice", "wonderland"}, {"md5_probe", "md5-from-postgres"}, {"carol", "scram-from-postgres"}} {
		c, err := pgx.Connect(ctxT(t), dsnFor(r, good[0], good[1]))
		if err != nil {
			t.Errorf("%s: %v", good[0], err)
			continue
		}
		c.Close(ctxT(t))
	}
	loginFailures(t, r, [][2]string{{"alice", "wrong"}, {"md5_probe", "wonderland"}, {"mallory", "wonderland"}, {"carol", "md5-from-postgres"}})
}

// A user limited to some databases logs in to those; asking for another
// with the right password gets 28000 naming it, with a wrong password the
// same 28P01 as any failed login.
func TestAllowedDatabases(t *testing.T) {
	r := startRouter(t, func(c *router.Config) {
		c.Auth = router.AuthConfig{Method: "scram-sha-256", Users: []router.UserConfig{
			{Name: "dave", Password: "dave-pw", Databases: []string{"app", "reports"}},
			{Name: "erin", Password: "erin-pw"},
		}}
	})
	in := func(dsn, db string) string { return strings.Replace(dsn, "/app?", "/"+db+"?", 1) }
	for _, tc := range []struct{ user, password, db, want string }{
		{"dave", "dave-pw", "app", ""},
		{"dave", "dave-pw", "reports", ""},
		{"erin", "erin-pw", "anything", ""},
		{"dave", "dave-pw", "payroll", "28000"},
		{"dave", "wrong", "payroll", "28P01"},
		{"dave", "wrong", "app", "28P01"},
	} {
		c, err := pgx.Connect(ctxT(t), in(dsnFor(r, tc.user, tc.password), tc.db))
		if err == nil {
			c.Close(ctxT(t))
		}
		if sqlstate(err) != tc.want {
			t.Errorf("%s/%s to %s: %v, want %q", tc.user, tc.password, tc.db, err, tc.want)
		}
		if tc.want == "28000" && !strings.Contains(serverMessage(err), tc.db) {
			t.Errorf("the refusal does not name the database: %v", err)
		}
		if tc.want == "28P01" && strings.Contains(serverMessage(err), tc.db) {
			t.Errorf("a failed login mentions the database: %v", err)
		}
	}
}

// No password, plain or hashed, reaches the router's logs (at debug level)
// or a configuration error.
func TestPasswordsStayOutOfLogsAndErrors(t *testing.T) {
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := router.Config{Listen: "127.0.0.1:0", Etcd: router.EtcdConfig{Endpoints: stack.Deployment.Etcd.Endpoints(), Key: stack.MapKey}}
	cfg.Auth = router.AuthConfig{Method: "md5", Users: []router.UserConfig{{Name: "frank", Password: "frank-secret-pw"}}}
	r, err := router.Start(ctxT(t), cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown(ctxT(t)) })
	if err := r.WaitReady(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctxT(t), dsnFor(r, "frank", "frank-secret-pw"))
	if err != nil {
		t.Fatal(err)
	}
	c.Close(ctxT(t))
	loginFailures(t, r, [][2]string{{"frank", "typo-of-frank-secret"}, {"nobody", "frank-secret-pw"}})
	secrets := []string{"frank-secret-pw", "typo-of-frank-secret", md5hex("frank-secret-pwfrank")}

	bad := []router.UserConfig{
		{Name: "u", Password: "SCRAM-SHA-256$4096:c2FsdA==$bm90LWEta2V5-secret-part"},
		{Name: "u", Password: "md5" + strings.Repeat("z", 32)},
	}
	for _, u := range bad {
		for _, method := range []string{"scram-sha-256", "md5"} {
			cfg.Auth = router.AuthConfig{Method: method, Users: []router.UserConfig{u}}
			if err := cfg.Validate(); err == nil {
				t.Errorf("%s accepted a malformed secret", method)
			} else if strings.Contains(err.Error(), u.Password) || strings.Contains(err.Error(), "secret-part") {
				t.Errorf("the configuration error quotes the secret: %v", err)
			}
		}
	}
	cfg.Auth = router.AuthConfig{Method: "scram-sha-256", Users: []router.UserConfig{{Name: "u", Password: "md5" + md5hex("pwu")}}}
	if err := cfg.Validate(); err == nil || strings.Contains(err.Error(), md5hex("pwu")) {
		t.Errorf("an MD5 secret under scram-sha-256: %v", err)
	}
	r.Shutdown(ctxT(t))
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the logs contain %q:\n%s", s, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "sqlrouter listening") {
		t.Errorf("nothing was logged, so the check above proves nothing:\n%s", logs.String())
	}
}

// serverMessage is the severity, code, message and detail of the
// server's error.
func serverMessage(err error) string {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return ""
	}
	return pe.Severity + " " + pe.Code + " " + pe.Message + " " + pe.Detail + " " + pe.Hint
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// lockedBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

package e2e

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/certgen"
	"github.com/sqlrouter/sqlrouter/localdeploy"
	"github.com/sqlrouter/sqlrouter/router"
)

// withParams returns dsn with its query parameters set.
func withParams(t testing.TB, dsn string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// withHost returns dsn pointed at another host name, same port.
func withHost(t testing.TB, dsn, host string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = net.JoinHostPort(host, u.Port())
	return u.String()
}

// encrypted connects with dsn and reports whether the connection uses TLS.
func encrypted(t testing.TB, dsn string) (bool, error) {
	t.Helper()
	c, err := pgx.Connect(ctxT(t), dsn)
	if err != nil {
		return false, err
	}
	defer c.Close(ctxT(t))
	var one int
	if err := c.QueryRow(ctxT(t), "SELECT 1").Scan(&one); err != nil {
		return false, err
	}
	_, ok := c.PgConn().Conn().(*tls.Conn)
	return ok, nil
}

// writeCA makes a CA, a server certificate it signs for the loopback
// names, and writes the CA certificate, the server certificate and its
// key into dir.
func writeCA(t testing.TB, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	ca, err := certgen.NewCA("sqlrouter test CA")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := ca.Issue("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if err := pair.Write(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	if err := (certgen.Pair{CertPEM: ca.CertPEM, KeyPEM: ca.KeyPEM}).Write(caFile, filepath.Join(dir, "ca.key")); err != nil {
		t.Fatal(err)
	}
	return caFile, certFile, keyFile
}

// The embedded deployment serves TLS with its self-signed certificate:
// SSLRequest gets 'S', sslmode=require and verify-full work (the
// certificate names 127.0.0.1 and localhost), a client that trusts another
// CA is refused, SCRAM is bound to the TLS channel when the client asks,
// and plain text is still accepted since TLS is not required there.
func TestTLSToClients(t *testing.T) {
	if stack.CertFile == "" {
		t.Fatal("the test stack serves no TLS")
	}
	nc := rawConn(t)
	nc.Write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f})
	b := make([]byte, 1)
	if _, err := nc.Read(b); err != nil || b[0] != 'S' {
		t.Fatalf("SSLRequest answer %q %v, want S", b, err)
	}

	dsn := stack.RouterDSN()
	if !strings.Contains(dsn, "sslmode=require") || !strings.Contains(dsn, ":"+stack.Password+"@") {
		t.Errorf("RouterDSN %s lacks sslmode=require or the password", dsn)
	}
	verifyFull := withParams(t, dsn, "sslmode", "verify-full", "sslrootcert", stack.CertFile)
	for name, d := range map[string]string{
		"sslmode=require":                      dsn,
		"verify-full to 127.0.0.1":             verifyFull,
		"verify-full to localhost":             withHost(t, verifyFull, "localhost"),
		"verify-full, channel_binding=require": withParams(t, verifyFull, "channel_binding", "require"),
	} {
		if tlsOn, err := encrypted(t, d); err != nil || !tlsOn {
			t.Errorf("%s: TLS %v, %v", name, tlsOn, err)
		}
	}
	other, _, _ := writeCA(t, t.TempDir())
	if _, err := encrypted(t, withParams(t, dsn, "sslmode", "verify-full", "sslrootcert", other)); err == nil {
		t.Error("verify-full with another CA connected")
	}
	if tlsOn, err := encrypted(t, withParams(t, dsn, "sslmode", "disable")); err != nil || tlsOn {
		t.Errorf("sslmode=disable: TLS %v, %v (plain text is allowed unless tls.require)", tlsOn, err)
	}
}

// GSS encryption is declined; bytes sent after an SSLRequest before the
// handshake are refused, since they would pass for encrypted data.
func TestTLSNegotiationEdges(t *testing.T) {
	nc := rawConn(t)
	nc.Write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30}) // GSSENCRequest
	b := make([]byte, 1)
	if _, err := nc.Read(b); err != nil || b[0] != 'N' {
		t.Fatalf("GSSENCRequest answer %q %v, want N", b, err)
	}
	nc = rawConn(t)
	startup, _ := (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "app"}}).Encode(nil)
	nc.Write(append([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}, startup...))
	expectErrorAndClose(t, nc, "08P01")
	routerServes(t)
}

// With tls.require, a plain-text login gets 28000 and a message that says
// TLS is needed; TLS logins work from pgx and psql with verify-full
// against the CA; a cancel request, which clients send without TLS, still
// cancels.
func TestTLSRequired(t *testing.T) {
	caFile, certFile, keyFile := writeCA(t, t.TempDir())
	r := startRouter(t, func(c *router.Config) {
		c.TLS = router.TLSConfig{CertFile: certFile, KeyFile: keyFile, Require: true}
		c.Auth = router.AuthConfig{Method: "scram-sha-256", Users: []router.UserConfig{{Name: "app", Password: "tls-only"}}}
	})
	plain := dsnFor(r, "app", "tls-only")
	_, err := pgx.Connect(ctxT(t), plain)
	if sqlstate(err) != "28000" || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("plain text with tls.require: %v, want 28000 naming TLS", err)
	}
	verifyFull := withParams(t, plain, "sslmode", "verify-full", "sslrootcert", caFile)
	if tlsOn, err := encrypted(t, verifyFull); err != nil || !tlsOn {
		t.Errorf("verify-full: TLS %v, %v", tlsOn, err)
	}

	bin, err := localdeploy.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	psql := exec.CommandContext(ctxT(t), bin.Path("psql"), "-X", "-A", "-t", "-c", "SELECT 'psql over TLS'", verifyFull)
	psql.Env = []string{"PATH=/usr/bin:/bin"}
	var out bytes.Buffer
	psql.Stdout, psql.Stderr = &out, &out
	if err := psql.Run(); err != nil || strings.TrimSpace(out.String()) != "psql over TLS" {
		t.Errorf("psql verify-full: %v\n%s", err, out.String())
	}
	out.Reset()
	psql = exec.CommandContext(ctxT(t), bin.Path("psql"), "-X", "-A", "-t", "-c", "SELECT 1", withParams(t, plain, "sslmode", "disable"))
	psql.Env = []string{"PATH=/usr/bin:/bin"}
	psql.Stdout, psql.Stderr = &out, &out
	if err := psql.Run(); err == nil || !strings.Contains(out.String(), "TLS") {
		t.Errorf("psql sslmode=disable with tls.require: %v\n%s", err, out.String())
	}

	c, err := pgx.Connect(ctxT(t), verifyFull)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctxT(t))
	assertCancels(t, c)
}

// A certificate renewed on disk is served to the next client, without a
// restart.
func TestTLSCertificateReload(t *testing.T) {
	dir := t.TempDir()
	oldCA, certFile, keyFile := writeCA(t, dir)
	saved := filepath.Join(t.TempDir(), "old-ca.crt")
	copyFile(t, oldCA, saved)
	r := startRouter(t, func(c *router.Config) {
		c.TLS = router.TLSConfig{CertFile: certFile, KeyFile: keyFile}
	})
	dsn := withParams(t, dsnFor(r, "app", ""), "sslmode", "verify-full")
	if _, err := encrypted(t, withParams(t, dsn, "sslrootcert", saved)); err != nil {
		t.Fatalf("before renewal: %v", err)
	}
	newCA, _, _ := writeCA(t, dir) // new CA and certificate in the same files
	if _, err := encrypted(t, withParams(t, dsn, "sslrootcert", newCA)); err != nil {
		t.Errorf("after renewal, trusting the new CA: %v", err)
	}
	if _, err := encrypted(t, withParams(t, dsn, "sslrootcert", saved)); err == nil {
		t.Error("after renewal, the old certificate is still served")
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

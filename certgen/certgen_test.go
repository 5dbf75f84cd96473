package certgen

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

// A certificate the CA issues verifies against the CA for its hosts and
// for no other; a self-signed one verifies against itself.
func TestIssuedAndSelfSignedVerify(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	issued, err := ca.Issue("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	self, err := SelfSigned("localhost", "127.0.0.1", "::1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pair Pair
		root []byte
	}{{"issued", issued, ca.CertPEM}, {"self-signed", self, self.CertPEM}} {
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(tc.root) {
			t.Fatalf("%s: root does not parse", tc.name)
		}
		kp, err := tls.X509KeyPair(tc.pair.CertPEM, tc.pair.KeyPEM)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		leaf := kp.Leaf
		for _, host := range []string{"localhost", "127.0.0.1"} {
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
				t.Errorf("%s for %s: %v", tc.name, host, err)
			}
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "example.com"}); err == nil {
			t.Errorf("%s verifies for a host it does not name", tc.name)
		}
	}
	if _, err := SelfSigned(); err == nil {
		t.Error("a certificate without hosts was made")
	}
}

// Write keeps the key private, and Covers tells whether a stored
// certificate can be reused for a set of hosts.
func TestWriteAndCovers(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls", "server.crt"), filepath.Join(dir, "tls", "server.key")
	if Covers(certFile, "localhost") {
		t.Error("a missing file covers localhost")
	}
	pair, err := SelfSigned("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := pair.Write(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	if !Covers(certFile, "localhost", "127.0.0.1") {
		t.Error("the certificate does not cover its own hosts")
	}
	if Covers(certFile, "localhost", "10.1.2.3") {
		t.Error("the certificate covers an address it does not name")
	}
	if Covers(keyFile, "localhost") {
		t.Error("a key file passes for a certificate")
	}
}

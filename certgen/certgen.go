// Package certgen makes TLS certificates for development and tests: a
// self-signed server pair (what `sqlrouter dev` serves), and a private
// certificate authority that issues server certificates (what the tests use
// to check verify-full). Production deployments bring their own
// certificates; nothing here is meant to replace a real CA.
package certgen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Validity is how long the certificates made here stay valid.
const Validity = 365 * 24 * time.Hour

// Pair is a certificate and its private key, both PEM encoded.
type Pair struct {
	CertPEM []byte
	KeyPEM  []byte
}

// CA is a private certificate authority.
type CA struct {
	// Pair is the CA's own certificate (what clients name as sslrootcert)
	// and key.
	Pair
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA makes a certificate authority called name.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl, err := template(name)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("certgen: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pair, err := encode(der, key)
	if err != nil {
		return nil, err
	}
	return &CA{Pair: pair, cert: cert, key: key}, nil
}

// Issue makes a server certificate signed by the CA, valid for hosts (DNS
// names or IP addresses).
func (ca *CA) Issue(hosts ...string) (Pair, error) { return issue(hosts, ca.cert, ca.key) }

// SelfSigned makes a server certificate for hosts that signs itself: a
// client verifies it by naming the certificate itself as its root
// (sslrootcert), with sslmode=verify-full.
func SelfSigned(hosts ...string) (Pair, error) { return issue(hosts, nil, nil) }

// issue makes a server certificate signed by parent, or by itself when
// parent is nil.
func issue(hosts []string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, err
	}
	tmpl, err := serverTemplate(hosts)
	if err != nil {
		return Pair{}, err
	}
	if parent == nil {
		// Its own issuer: a CA certificate, so that every TLS library
		// accepts it as a trust anchor.
		tmpl.IsCA = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return Pair{}, fmt.Errorf("certgen: %w", err)
	}
	return encode(der, key)
}

// Write stores the pair: the certificate readable by all, the key by its
// owner only (libpq and PostgreSQL refuse keys others can read).
func (p Pair) Write(certFile, keyFile string) error {
	for _, f := range []string{certFile, keyFile} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return fmt.Errorf("certgen: %w", err)
		}
	}
	if err := os.WriteFile(certFile, p.CertPEM, 0o644); err != nil {
		return fmt.Errorf("certgen: %w", err)
	}
	if err := os.WriteFile(keyFile, p.KeyPEM, 0o600); err != nil {
		return fmt.Errorf("certgen: %w", err)
	}
	return nil
}

// Covers reports whether the PEM certificate in certFile is valid now,
// for at least another day, and for every one of hosts.
func Covers(certFile string, hosts ...string) bool {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return false
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return false
	}
	if now := time.Now(); now.Before(cert.NotBefore) || now.Add(24*time.Hour).After(cert.NotAfter) {
		return false
	}
	for _, h := range hosts {
		if cert.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func template(commonName string) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"sqlrouter development"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(Validity),
		BasicConstraintsValid: true,
	}, nil
}

func serverTemplate(hosts []string) (*x509.Certificate, error) {
	if len(hosts) == 0 {
		return nil, errors.New("certgen: a server certificate needs at least one host")
	}
	tmpl, err := template(hosts[0])
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl, nil
}

func encode(der []byte, key *ecdsa.PrivateKey) (Pair, error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Pair{}, err
	}
	return Pair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

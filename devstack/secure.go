package devstack

import (
	"crypto/rand"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"slices"

	"github.com/sqlrouter/sqlrouter/certgen"
	"github.com/sqlrouter/sqlrouter/router"
)

// secure sets up the router's client side as in production, unless opts
// say otherwise: a self-signed certificate in the deployment's tls/
// directory, and SCRAM-SHA-256 for user app.
func (s *Stack) secure(cfg *router.Config, opts Options) error {
	if !opts.PlainText {
		certFile, keyFile, err := selfSignedPair(filepath.Join(s.Deployment.Dir, "tls"), cfg.Listen)
		if err != nil {
			return err
		}
		cfg.TLS = router.TLSConfig{CertFile: certFile, KeyFile: keyFile}
		s.CertFile = certFile
	}
	if !opts.Trust {
		s.Password = opts.Password
		if s.Password == "" {
			b := make([]byte, 18)
			rand.Read(b)
			s.Password = base64.RawURLEncoding.EncodeToString(b)
		}
		cfg.Auth = router.AuthConfig{Method: "scram-sha-256", Users: []router.UserConfig{{Name: User, Password: s.Password}}}
	}
	return nil
}

// selfSignedPair returns the files of a self-signed certificate in dir for
// the names a client may use to reach listen, made unless a valid one is
// there.
func selfSignedPair(dir, listen string) (certFile, keyFile string, err error) {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if host, _, err := net.SplitHostPort(listen); err == nil {
		ip := net.ParseIP(host)
		switch {
		case host == "" || (ip != nil && ip.IsUnspecified()):
			// Every interface: the machine's name too.
			if name, err := os.Hostname(); err == nil && name != "" {
				hosts = append(hosts, name)
			}
		case !slices.Contains(hosts, host):
			hosts = append(hosts, host)
		}
	}
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if _, err := os.Stat(keyFile); err == nil && certgen.Covers(certFile, hosts...) {
		return certFile, keyFile, nil
	}
	pair, err := certgen.SelfSigned(hosts...)
	if err != nil {
		return "", "", err
	}
	if err := pair.Write(certFile, keyFile); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

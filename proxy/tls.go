package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// TLSConfig enables TLS for clients. The zero value leaves it off:
// SSLRequest is answered 'N'.
type TLSConfig struct {
	// CertFile and KeyFile are the server certificate (with any
	// intermediates after it) and its private key, in PEM. The files are
	// read again when they change, so a renewed certificate needs no
	// restart.
	CertFile string
	KeyFile  string
	// Require refuses clients that do not use TLS with 28000, as a
	// hostssl-only pg_hba.conf does. Cancel requests are accepted either
	// way: libpq and most drivers send them without TLS.
	Require bool
}

// Enabled reports whether TLS is configured.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

// ValidateTLS checks the shape of a TLS configuration; the files are read
// by NewServer.
func ValidateTLS(cfg TLSConfig) error {
	switch {
	case cfg.Require && !cfg.Enabled():
		return fmt.Errorf("require needs a certificate and a key")
	case cfg.Enabled() && (cfg.CertFile == "" || cfg.KeyFile == ""):
		return fmt.Errorf("TLS needs both a certificate file and a key file")
	}
	return nil
}

// certificates serves the configured pair and reloads it when its files
// change.
type certificates struct {
	certFile, keyFile string
	logger            *slog.Logger

	mu      sync.Mutex
	serving *tlsServing
	stamp   [2]fileStamp
}

// tlsServing is one loaded certificate: the TLS configuration that
// presents it, and the SCRAM channel binding data it implies.
type tlsServing struct {
	config  *tls.Config
	binding scram.ChannelBinding
}

// fileStamp tells whether a file changed.
type fileStamp struct {
	mod  time.Time
	size int64
}

func newCertificates(cfg TLSConfig, logger *slog.Logger) (*certificates, error) {
	if err := ValidateTLS(cfg); err != nil || !cfg.Enabled() {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &certificates{certFile: cfg.CertFile, keyFile: cfg.KeyFile, logger: logger}
	stamp := c.stat()
	serving, err := c.load()
	if err != nil {
		return nil, err
	}
	c.serving, c.stamp = serving, stamp
	return c, nil
}

func (c *certificates) stat() [2]fileStamp {
	var s [2]fileStamp
	for i, f := range []string{c.certFile, c.keyFile} {
		if st, err := os.Stat(f); err == nil {
			s[i] = fileStamp{mod: st.ModTime(), size: st.Size()}
		}
	}
	return s
}

func (c *certificates) load() (*tlsServing, error) {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("TLS certificate %s: %w", c.certFile, err)
		}
	}
	// tls-server-end-point (RFC 5929): a hash of the certificate the
	// client sees, which both sides compute.
	binding, err := scram.NewTLSServerEndpointBinding(&tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}})
	if err != nil {
		binding = scram.ChannelBinding{} // an unusual signature algorithm: SCRAM without -PLUS
	}
	return &tlsServing{
		config: &tls.Config{
			Certificates: []tls.Certificate{pair},
			MinVersion:   tls.VersionTLS12,
			// PostgreSQL 17 clients ask for this protocol name.
			NextProtos: []string{"postgresql"},
		},
		binding: binding,
	}, nil
}

// current returns the pair to serve, reloaded first if its files changed.
// A pair that fails to load is logged and the previous one kept.
func (c *certificates) current() *tlsServing {
	c.mu.Lock()
	defer c.mu.Unlock()
	if stamp := c.stat(); stamp != c.stamp {
		c.stamp = stamp
		if serving, err := c.load(); err != nil {
			c.logger.Warn("cannot reload the TLS certificate; serving the previous one", "err", err)
		} else {
			c.serving = serving
			c.logger.Info("TLS certificate reloaded", "cert_file", c.certFile)
		}
	}
	return c.serving
}

// countingReader counts the bytes read from a connection, so that the
// startup code knows whether anything was read ahead.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// startTLS answers an SSLRequest. consumed is the number of bytes of the
// startup packets read so far, this request included. It returns false
// when the connection must close.
func (cs *clientSession) startTLS(ctx context.Context, consumed int64) bool {
	certs := cs.srv.certs
	if cs.tls != nil {
		cs.fatal(pgerror.New(pgerror.ProtocolViolation, "SSLRequest on a connection that is already encrypted"))
		return false
	}
	if certs == nil {
		// No TLS: the client goes on in clear text or gives up, as with a
		// server that has ssl = off.
		_, err := cs.nc.Write([]byte{'N'})
		return err == nil
	}
	if cs.in.n != consumed {
		// Bytes after the SSLRequest arrived before the handshake: they
		// would be taken as sent over TLS although they were not.
		cs.fatal(pgerror.New(pgerror.ProtocolViolation, "received unencrypted data after SSL request"))
		return false
	}
	serving := certs.current()
	if _, err := cs.nc.Write([]byte{'S'}); err != nil {
		return false
	}
	tc := tls.Server(cs.nc, serving.config)
	if err := tc.HandshakeContext(ctx); err != nil {
		cs.srv.cfg.Logger.Debug("TLS handshake failed", "remote", cs.nc.RemoteAddr().String(), "err", err)
		return false
	}
	cs.nc = tc
	cs.be = pgproto3.NewBackend(tc, tc)
	cs.be.SetMaxBodyLen(cs.srv.cfg.MaxMessageSize)
	cs.tls = serving
	return true
}

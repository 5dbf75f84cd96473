package backend

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ParseURL reads a node's connection string (a postgres:// URL or libpq
// keyword/value string, as in the shard map) with settings overriding the
// libpq parameters of the same names (sslmode, sslrootcert, ...).
//
// libpq's sslmode=prefer (the default) and allow try TLS and plain text
// in turn; those attempts are kept. Other hosts of a multi-host string are
// dropped: the shard map names one node per URL, and the router must not
// wander to another.
func ParseURL(connString string, settings map[string]string) (*pgconn.Config, error) {
	s, err := withSettings(connString, settings)
	if err != nil {
		return nil, err
	}
	cfg, err := pgconn.ParseConfig(s)
	if err != nil {
		return nil, err
	}
	var same []*pgconn.FallbackConfig
	for _, fb := range cfg.Fallbacks {
		if fb.Host == cfg.Host && fb.Port == cfg.Port {
			same = append(same, fb)
		}
	}
	cfg.Fallbacks = same
	return cfg, nil
}

// withSettings sets libpq parameters in a connection string.
func withSettings(connString string, settings map[string]string) (string, error) {
	if len(settings) == 0 {
		return connString, nil
	}
	if strings.HasPrefix(connString, "postgres://") || strings.HasPrefix(connString, "postgresql://") {
		u, err := url.Parse(connString)
		if err != nil {
			// Do not quote the string: it may hold a password.
			return "", fmt.Errorf("cannot parse the connection URL")
		}
		q := u.Query()
		for k, v := range settings {
			q.Set(k, v)
		}
		// pgconn reads "+" literally: spaces go as %20 (a real "+" is %2B).
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
		return u.String(), nil
	}
	// Keyword/value: a later keyword overrides an earlier one.
	var b strings.Builder
	b.WriteString(connString)
	for k, v := range settings {
		v = strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v)
		fmt.Fprintf(&b, " %s='%s'", k, v)
	}
	return b.String(), nil
}

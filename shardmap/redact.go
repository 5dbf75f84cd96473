package shardmap

import (
	"net/url"
	"strings"
)

// RedactURL returns a node URL fit for logs and errors: a password in the
// user part or in a password= parameter is replaced by "xxxxx". A string
// that does not parse is cut to its scheme.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		scheme, _, _ := strings.Cut(s, "://")
		return scheme + "://(unparsable URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

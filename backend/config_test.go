package backend

import (
	"strings"
	"testing"
)

// ParseURL keeps libpq's TLS-then-plain attempts on the node's own
// address, drops other hosts, and applies overrides in both connection
// string forms.
func TestParseURL(t *testing.T) {
	cfg, err := ParseURL("postgres://u:pw@10.0.0.1:5432,10.0.0.2:5433/app?sslmode=prefer", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "10.0.0.1" || cfg.TLSConfig == nil {
		t.Errorf("first attempt %s TLS %v, want 10.0.0.1 with TLS", cfg.Host, cfg.TLSConfig != nil)
	}
	if len(cfg.Fallbacks) != 1 || cfg.Fallbacks[0].Host != "10.0.0.1" || cfg.Fallbacks[0].TLSConfig != nil {
		t.Errorf("fallbacks %+v, want one plain-text attempt on 10.0.0.1", cfg.Fallbacks)
	}
	for _, s := range []string{
		"postgres://u@10.0.0.1/app?sslmode=disable",
		"host=10.0.0.1 user=u dbname=app sslmode=disable",
	} {
		cfg, err := ParseURL(s, map[string]string{"sslmode": "require", "application_name": `it's \ odd`})
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if cfg.TLSConfig == nil || len(cfg.Fallbacks) != 0 {
			t.Errorf("%s with sslmode=require: TLS %v, %d fallbacks", s, cfg.TLSConfig != nil, len(cfg.Fallbacks))
		}
		if got := cfg.RuntimeParams["application_name"]; got != `it's \ odd` {
			t.Errorf("%s: application_name %q", s, got)
		}
	}
	if _, err := ParseURL("postgres://u:s3cret@[bad/app", map[string]string{"sslmode": "require"}); err == nil {
		t.Error("a malformed URL parsed")
	} else if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error quotes the password: %v", err)
	}
}

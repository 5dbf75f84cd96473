package proxy

import (
	"strings"
	"testing"
)

// Which configurations start, and that the errors of those that do not
// never quote a password or secret.
func TestValidateAuth(t *testing.T) {
	scramSecret := "SCRAM-SHA-256$4096:c3Fscm91dGVyLXNhbXBsZQ==$z/S9mQaVXREDkJr+AiMfiBsiw+l8JYB72Bq5wg5Bawg=:OCKkDP8iKubj/zV6pXO59pWD9B0orqC54WzZL6DItME="
	md5Secret := "md5" + md5Hex("pw"+"u")
	for _, tc := range []struct {
		name   string
		method string
		users  []User
		ok     bool
	}{
		{"trust, nobody listed", "", nil, true},
		{"trust, names only", "trust", []User{{Name: "u"}}, true},
		{"scram, plain password", "scram-sha-256", []User{{Name: "u", Password: "pw"}}, true},
		{"scram, SCRAM secret", "SCRAM-SHA-256", []User{{Name: "u", Password: scramSecret}}, true},
		{"md5, every kind", "md5", []User{{Name: "a", Password: "pw"}, {Name: "b", Password: md5Secret}, {Name: "c", Password: scramSecret}}, true},
		{"scram, MD5 secret", "scram-sha-256", []User{{Name: "u", Password: md5Secret}}, false},
		{"md5, malformed MD5 secret", "md5", []User{{Name: "u", Password: "md5" + strings.Repeat("g", 32)}}, false},
		{"scram, malformed SCRAM secret", "scram-sha-256", []User{{Name: "u", Password: "SCRAM-SHA-256$4096:bad"}}, false},
		{"scram, no password", "scram-sha-256", []User{{Name: "u"}}, false},
		{"scram, nobody", "scram-sha-256", nil, false},
		{"a user twice", "md5", []User{{Name: "u", Password: "a"}, {Name: "u", Password: "b"}}, false},
		{"no name", "md5", []User{{Password: "pw"}}, false},
		{"unknown method", "password", []User{{Name: "u", Password: "pw"}}, false},
	} {
		err := ValidateAuth(AuthConfig{Method: tc.method, Users: tc.users})
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
		for _, u := range tc.users {
			if err != nil && len(u.Password) > 3 && strings.Contains(err.Error(), u.Password[3:]) {
				t.Errorf("%s: the error quotes the secret: %v", tc.name, err)
			}
		}
	}
}

// A plain password yields both secrets, the MD5 one as PostgreSQL
// computes it: md5(password || user).
func TestPlainPasswordSecrets(t *testing.T) {
	acct, err := newAccount(AuthMD5, User{Name: "postgres", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	// md5('secretpostgres'), as PostgreSQL computes it.
	if want := "53f48b7c4b76a86ce72276c5755f217d"; acct.md5 != want {
		t.Errorf("md5 secret %s, want %s", acct.md5, want)
	}
	if acct.scram == nil || acct.scram.Iters != 4096 {
		t.Errorf("SCRAM secret %+v", acct.scram)
	}
}

package proxy

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// AuthConfig says how clients authenticate.
type AuthConfig struct {
	// Method is "trust" (the default: no password), "md5" or
	// "scram-sha-256".
	Method string
	// Users may connect. With trust and no users, anyone may.
	Users []User
}

// User is a client account.
type User struct {
	Name string
	// Password is the plain password, a SCRAM-SHA-256 secret in the form
	// PostgreSQL stores ("SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"),
	// or an MD5 secret as PostgreSQL stores it ("md5" followed by the hex
	// MD5 of the password and the user name).
	Password string
	// Databases are the database names the user may ask for at startup
	// (empty: any).
	Databases []string
}

// The authentication methods.
const (
	AuthTrust       = "trust"
	AuthMD5         = "md5"
	AuthSCRAMSHA256 = "scram-sha-256"
)

// ValidateAuth checks an authentication configuration: the method, and
// that every password or secret can be used with it. Its errors never
// quote a password.
func ValidateAuth(cfg AuthConfig) error {
	_, err := newAuthenticator(cfg)
	return err
}

type authenticator struct {
	method string
	users  map[string]*account
	open   bool // trust with no user list
}

// account is what the router keeps of a user: secrets, never the plain
// password.
type account struct {
	// scram is the SCRAM-SHA-256 secret, nil if only an MD5 secret is
	// configured.
	scram *scram.StoredCredentials
	// md5 is the hex MD5 of password and user name, "" if only a SCRAM
	// secret is configured.
	md5 string
	// databases the user may connect to; nil: any.
	databases map[string]bool
}

func newAuthenticator(cfg AuthConfig) (*authenticator, error) {
	a := &authenticator{method: strings.ToLower(cfg.Method), users: map[string]*account{}}
	if a.method == "" {
		a.method = AuthTrust
	}
	if a.method != AuthTrust && a.method != AuthMD5 && a.method != AuthSCRAMSHA256 {
		return nil, fmt.Errorf("auth method %q: want %s, %s or %s", cfg.Method, AuthTrust, AuthMD5, AuthSCRAMSHA256)
	}
	for _, u := range cfg.Users {
		if u.Name == "" {
			return nil, fmt.Errorf("a user without a name")
		}
		if _, dup := a.users[u.Name]; dup {
			return nil, fmt.Errorf("user %q is listed twice", u.Name)
		}
		acct, err := newAccount(a.method, u)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", u.Name, err)
		}
		a.users[u.Name] = acct
	}
	a.open = a.method == AuthTrust && len(cfg.Users) == 0
	if a.method != AuthTrust && len(cfg.Users) == 0 {
		return nil, fmt.Errorf("auth method %s needs at least one user", a.method)
	}
	return a, nil
}

// newAccount turns a configured user into secrets: a plain password is
// hashed now (for both methods) and not kept.
func newAccount(method string, u User) (*account, error) {
	acct := &account{}
	if len(u.Databases) > 0 {
		acct.databases = map[string]bool{}
		for _, db := range u.Databases {
			acct.databases[db] = true
		}
	}
	pw := u.Password
	switch {
	case pw == "" && method == AuthTrust:
		return acct, nil
	case pw == "":
		return nil, fmt.Errorf("no password")
	case strings.HasPrefix(pw, "SCRAM-SHA-256$"):
		creds, err := parseSCRAMSecret(pw)
		if err != nil {
			return nil, err
		}
		acct.scram = &creds
	case looksLikeMD5Secret(pw):
		if !isMD5Secret(pw) {
			return nil, fmt.Errorf("malformed MD5 secret: want md5 and 32 hexadecimal digits")
		}
		if method == AuthSCRAMSHA256 {
			return nil, fmt.Errorf("an MD5 secret cannot be used with scram-sha-256: give the plain password or a SCRAM-SHA-256 secret")
		}
		acct.md5 = strings.ToLower(pw[len("md5"):])
	default:
		creds, err := scramFromPassword(pw)
		if err != nil {
			return nil, err
		}
		acct.scram = &creds
		acct.md5 = md5Hex(pw + u.Name)
	}
	return acct, nil
}

// failedLogin is the one error every failed login gets: it does not say
// whether the user or the password was wrong.
func failedLogin(user string) error {
	e := pgerror.New(pgerror.InvalidPassword, "password authentication failed for user \"%s\"", user)
	e.Severity = "FATAL"
	return e
}

// authenticate runs the authentication exchange for user, then checks
// that the user may use database. A wrong password and an unknown user get
// the same error; a database the user may not use is told only to a
// client that proved its password.
func (cs *clientSession) authenticate(user, database string) error {
	a := cs.srv.auth
	acct, known := a.users[user]
	var err error
	switch {
	case a.method == AuthTrust:
		if !known && !a.open {
			e := pgerror.New(pgerror.InvalidAuthorization, "role \"%s\" is not permitted to log in through this router", user)
			e.Severity = "FATAL"
			return e
		}
	case a.method == AuthMD5 && (!known || acct.md5 != ""):
		// md5 as in pg_hba.conf: users whose only secret is SCRAM go
		// through SCRAM instead.
		err = cs.md5Exchange(user, acct)
	default:
		err = cs.scramExchange(user, acct)
	}
	if err != nil {
		return err
	}
	if known && acct.databases != nil && !acct.databases[database] {
		e := pgerror.New(pgerror.InvalidAuthorization, "user \"%s\" may not connect to database \"%s\" through this router", user, database)
		e.Severity = "FATAL"
		return e
	}
	return nil
}

// authRound sends an authentication request and reads the client's
// answer, decoded as the request's type calls for.
func (cs *clientSession) authRound(request pgproto3.BackendMessage, authType uint32) (pgproto3.FrontendMessage, error) {
	cs.send(request)
	if err := cs.flush(); err != nil {
		return nil, err
	}
	if err := cs.be.SetAuthType(authType); err != nil {
		return nil, err
	}
	return cs.be.Receive()
}

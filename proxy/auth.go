package proxy

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// AuthConfig says how clients authenticate.
type AuthConfig struct {
	// Method is "trust" (the default: no password) or "scram-sha-256".
	Method string
	// Users may connect. With trust and no users, anyone may.
	Users []User
}

// User is a client account.
type User struct {
	Name string
	// Password is the plain password, or a SCRAM-SHA-256 secret in the
	// form PostgreSQL stores ("SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>").
	Password string
}

// The authentication methods.
const (
	AuthTrust       = "trust"
	AuthSCRAMSHA256 = "scram-sha-256"
)

// ValidateAuth checks an authentication configuration: the method, and
// that every password or secret can be used.
func ValidateAuth(cfg AuthConfig) error {
	_, err := newAuthenticator(cfg)
	return err
}

type authenticator struct {
	method string
	users  map[string]scram.StoredCredentials
	open   bool // trust with no user list
}

func newAuthenticator(cfg AuthConfig) (*authenticator, error) {
	a := &authenticator{method: strings.ToLower(cfg.Method), users: map[string]scram.StoredCredentials{}}
	if a.method == "" {
		a.method = AuthTrust
	}
	if a.method != AuthTrust && a.method != AuthSCRAMSHA256 {
		return nil, fmt.Errorf("auth method %q: want %s or %s", cfg.Method, AuthTrust, AuthSCRAMSHA256)
	}
	for _, u := range cfg.Users {
		if u.Name == "" {
			return nil, fmt.Errorf("a user without a name")
		}
		creds, err := storedCredentials(u.Password)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", u.Name, err)
		}
		a.users[u.Name] = creds
	}
	a.open = a.method == AuthTrust && len(cfg.Users) == 0
	if a.method == AuthSCRAMSHA256 && len(cfg.Users) == 0 {
		return nil, fmt.Errorf("auth method %s needs at least one user", AuthSCRAMSHA256)
	}
	return a, nil
}

// storedCredentials turns a configured password into SCRAM credentials:
// a PostgreSQL-format secret is parsed, a plain password is salted and
// hashed now (the plain text is not kept).
func storedCredentials(pw string) (scram.StoredCredentials, error) {
	if strings.HasPrefix(pw, "SCRAM-SHA-256$") {
		return parseSCRAMSecret(pw)
	}
	client, err := scram.SHA256.NewClient("", pw, "")
	if err != nil {
		return scram.StoredCredentials{}, fmt.Errorf("password: %w", err)
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	return client.GetStoredCredentials(scram.KeyFactors{Salt: string(salt), Iters: 4096}), nil
}

func parseSCRAMSecret(s string) (scram.StoredCredentials, error) {
	bad := fmt.Errorf("malformed SCRAM-SHA-256 secret")
	rest := strings.TrimPrefix(s, "SCRAM-SHA-256$")
	head, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return scram.StoredCredentials{}, bad
	}
	iterText, saltText, ok := strings.Cut(head, ":")
	storedText, serverText, ok2 := strings.Cut(keys, ":")
	if !ok || !ok2 {
		return scram.StoredCredentials{}, bad
	}
	iters, err := strconv.Atoi(iterText)
	salt, err2 := base64.StdEncoding.DecodeString(saltText)
	stored, err3 := base64.StdEncoding.DecodeString(storedText)
	server, err4 := base64.StdEncoding.DecodeString(serverText)
	if err != nil || err2 != nil || err3 != nil || err4 != nil || iters <= 0 || len(stored) != 32 || len(server) != 32 {
		return scram.StoredCredentials{}, bad
	}
	return scram.StoredCredentials{KeyFactors: scram.KeyFactors{Salt: string(salt), Iters: iters}, StoredKey: stored, ServerKey: server}, nil
}

// failedLogin is the one error every failed login gets: it does not say
// whether the user or the password was wrong.
func failedLogin(user string) error {
	e := pgerror.New(pgerror.InvalidPassword, "password authentication failed for user \"%s\"", user)
	e.Severity = "FATAL"
	return e
}

// authenticate runs the authentication exchange for user.
func (cs *clientSession) authenticate(user string) error {
	a := cs.srv.auth
	if a.method == AuthTrust {
		if _, ok := a.users[user]; !ok && !a.open {
			e := pgerror.New(pgerror.InvalidAuthorization, "role \"%s\" is not permitted to log in through this router", user)
			e.Severity = "FATAL"
			return e
		}
		return nil
	}
	creds, known := a.users[user]
	if !known {
		// Go through the whole exchange with made-up credentials, so an
		// unknown user fails exactly like a wrong password.
		creds = fakeCredentials()
	}
	server, err := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) {
		// PostgreSQL clients leave the SCRAM user name empty: the startup
		// packet's user is the one that counts.
		return creds, nil
	})
	if err != nil {
		return err
	}
	conv := server.NewConversation()
	cs.send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
	if err := cs.flush(); err != nil {
		return err
	}
	if err := cs.be.SetAuthType(pgproto3.AuthTypeSASL); err != nil {
		return err
	}
	msg, err := cs.be.Receive()
	if err != nil {
		return err
	}
	first, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok || first.AuthMechanism != "SCRAM-SHA-256" {
		return failedLogin(user)
	}
	out, err := conv.Step(string(first.Data))
	if err != nil {
		return failedLogin(user)
	}
	cs.send(&pgproto3.AuthenticationSASLContinue{Data: []byte(out)})
	if err := cs.flush(); err != nil {
		return err
	}
	if err := cs.be.SetAuthType(pgproto3.AuthTypeSASLContinue); err != nil {
		return err
	}
	msg, err = cs.be.Receive()
	if err != nil {
		return err
	}
	final, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return failedLogin(user)
	}
	out, err = conv.Step(string(final.Data))
	if err != nil || !conv.Valid() || !known {
		return failedLogin(user)
	}
	cs.send(&pgproto3.AuthenticationSASLFinal{Data: []byte(out)})
	return nil
}

func fakeCredentials() scram.StoredCredentials {
	salt, stored, server := make([]byte, 16), make([]byte, 32), make([]byte, 32)
	rand.Read(salt)
	rand.Read(stored)
	rand.Read(server)
	return scram.StoredCredentials{KeyFactors: scram.KeyFactors{Salt: string(salt), Iters: 4096}, StoredKey: stored, ServerKey: server}
}

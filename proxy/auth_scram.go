package proxy

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"
)

// The SASL mechanisms the router offers.
const (
	mechSCRAM     = "SCRAM-SHA-256"
	mechSCRAMPlus = "SCRAM-SHA-256-PLUS"
)

// scramFromPassword salts and hashes a plain password.
func scramFromPassword(pw string) (scram.StoredCredentials, error) {
	client, err := scram.SHA256.NewClient("", pw, "")
	if err != nil {
		// The library's message does not quote the password.
		return scram.StoredCredentials{}, fmt.Errorf("password: %w", err)
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	creds, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: 4096})
	if err != nil {
		return scram.StoredCredentials{}, fmt.Errorf("password: %w", err)
	}
	return creds, nil
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

// scramExchange runs SCRAM-SHA-256 for user (acct nil: unknown user).
// Over TLS it also offers SCRAM-SHA-256-PLUS, which binds the exchange to
// the certificate the client saw.
func (cs *clientSession) scramExchange(user string, acct *account) error {
	var creds scram.StoredCredentials
	known := acct != nil && acct.scram != nil
	if known {
		creds = *acct.scram
	} else {
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
	mechanisms := []string{mechSCRAM}
	conv := server.NewConversation()
	if cs.tls != nil && cs.tls.binding.IsSupported() {
		mechanisms = []string{mechSCRAMPlus, mechSCRAM}
		conv = server.NewConversationWithChannelBinding(cs.tls.binding)
	}
	msg, err := cs.authRound(&pgproto3.AuthenticationSASL{AuthMechanisms: mechanisms}, pgproto3.AuthTypeSASL)
	if err != nil {
		return err
	}
	first, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok || !slices.Contains(mechanisms, first.AuthMechanism) {
		return failedLogin(user)
	}
	// The mechanism and the client's channel binding flag must agree:
	// -PLUS with "p=", plain SCRAM without.
	if bound := strings.HasPrefix(string(first.Data), "p="); bound != (first.AuthMechanism == mechSCRAMPlus) {
		return failedLogin(user)
	}
	out, err := conv.Step(string(first.Data))
	if err != nil {
		return failedLogin(user)
	}
	msg, err = cs.authRound(&pgproto3.AuthenticationSASLContinue{Data: []byte(out)}, pgproto3.AuthTypeSASLContinue)
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

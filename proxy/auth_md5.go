package proxy

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// md5Hex is the lower-case hex MD5 of s.
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// looksLikeMD5Secret tells a configured password meant as an MD5 secret
// (md5 and 32 more characters) from a plain one.
func looksLikeMD5Secret(pw string) bool {
	return len(pw) == 35 && strings.HasPrefix(pw, "md5")
}

// isMD5Secret reports whether pw is an MD5 secret as PostgreSQL stores
// it: "md5" and the 32 hex digits of md5(password || user).
func isMD5Secret(pw string) bool {
	if !looksLikeMD5Secret(pw) {
		return false
	}
	_, err := hex.DecodeString(pw[3:])
	return err == nil
}

// md5Exchange runs PostgreSQL's MD5 challenge for user (acct nil:
// unknown user): the client answers "md5" + md5(md5(password || user) ||
// salt), which the router checks against the stored md5(password || user).
func (cs *clientSession) md5Exchange(user string, acct *account) error {
	var salt [4]byte
	rand.Read(salt[:])
	msg, err := cs.authRound(&pgproto3.AuthenticationMD5Password{Salt: salt}, pgproto3.AuthTypeMD5Password)
	if err != nil {
		return err
	}
	answer, ok := msg.(*pgproto3.PasswordMessage)
	if !ok || acct == nil || acct.md5 == "" {
		return failedLogin(user)
	}
	want := "md5" + md5Hex(acct.md5+string(salt[:]))
	if subtle.ConstantTimeCompare([]byte(answer.Password), []byte(want)) != 1 {
		return failedLogin(user)
	}
	return nil
}

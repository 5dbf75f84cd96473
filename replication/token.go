package replication

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"strings"
)

// Token is a client's read-your-writes position: per cluster, the
// primary's WAL position after the client's last writing commit there. A
// read on a cluster may be served by a replica only once the replica has
// replayed at least the token's position for that cluster.
//
// Tokens are values: Merge and Advance return a new Token and never modify
// their receiver's map.
type Token struct {
	// Revision is the shard map revision the positions were taken under.
	Revision int64
	// Positions holds the WAL positions by cluster name. A missing cluster
	// and a zero LSN both mean "no requirement".
	Positions map[string]LSN
}

// tokenVersion1 starts every token in the version 1 encoding.
const tokenVersion1 = "v1."

// ErrBadToken is wrapped by every DecodeToken error. The executor answers
// it with SQLSTATE 22023 (invalid_parameter_value).
var ErrBadToken = errors.New("invalid read-your-writes token")

// tokenEncoding is base64url without padding. Strict: the unused bits of
// the last character must be zero, so each payload has one text form.
var tokenEncoding = base64.RawURLEncoding.Strict()

// maxClusterName is the longest identifier PostgreSQL (and the shard map)
// accepts.
const maxClusterName = 63

// Encode returns the token's text form, "" for a token without positions.
//
// Version 1 is "v1." followed by the base64url encoding (RFC 4648 §5, no
// padding) of a binary payload:
//
//	varint(Revision)                      zig-zag, as encoding/binary.AppendVarint
//	then, per cluster in ascending byte order of name, for each non-zero position:
//	uvarint(len(name)) name uvarint(LSN)
//
// The text uses only ASCII letters, digits, '-', '_' and '.', so it needs
// no quoting in ParameterStatus, SHOW output, SET values or libpq options.
// Three clusters named like "s0" at multi-gigabyte WAL positions take
// about 45 characters. Every token has exactly one text form, so equal
// tokens encode to equal strings. Cluster names must be identifiers, as
// the shard map requires, or DecodeToken refuses the result.
func (t Token) Encode() string {
	names := make([]string, 0, len(t.Positions))
	for name, lsn := range t.Positions {
		if lsn != 0 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	payload := binary.AppendVarint(make([]byte, 0, 2+len(names)*16), t.Revision)
	for _, name := range names {
		payload = binary.AppendUvarint(payload, uint64(len(name)))
		payload = append(payload, name...)
		payload = binary.AppendUvarint(payload, uint64(t.Positions[name]))
	}
	out := make([]byte, len(tokenVersion1), len(tokenVersion1)+tokenEncoding.EncodedLen(len(payload)))
	copy(out, tokenVersion1)
	return string(tokenEncoding.AppendEncode(out, payload))
}

// DecodeToken parses a token made by Encode. "" decodes to the zero Token
// (no positions). Anything else that Encode could not have produced is an
// error wrapping ErrBadToken: an unknown version, characters outside the
// base64url alphabet (line breaks included), non-zero padding bits, an
// empty or truncated payload, non-minimal varints, cluster names that are
// not identifiers or not in strictly ascending order, zero positions.
func DecodeToken(s string) (Token, error) {
	if s == "" {
		return Token{}, nil
	}
	body, ok := strings.CutPrefix(s, tokenVersion1)
	if !ok {
		if v, _, found := strings.Cut(s, "."); found && len(v) > 1 && len(v) <= 8 && v[0] == 'v' {
			return Token{}, fmt.Errorf("%w: unsupported version %q", ErrBadToken, v)
		}
		return Token{}, fmt.Errorf("%w: it must start with %q", ErrBadToken, tokenVersion1)
	}
	// base64's decoder skips CR and LF; a token must not contain them.
	for i := 0; i < len(body); i++ {
		if !isBase64URL(body[i]) {
			return Token{}, fmt.Errorf("%w: unexpected character at offset %d", ErrBadToken, len(tokenVersion1)+i)
		}
	}
	payload, err := tokenEncoding.DecodeString(body)
	if err != nil {
		return Token{}, fmt.Errorf("%w: bad base64url: %v", ErrBadToken, err)
	}
	return decodePayload(payload)
}

// decodePayload reads a version 1 payload; see Encode.
func decodePayload(p []byte) (Token, error) {
	rev, n := binary.Varint(p)
	if n <= 0 || n != uvarintLen(zigzag(rev)) {
		return Token{}, fmt.Errorf("%w: bad revision", ErrBadToken)
	}
	p = p[n:]
	if len(p) == 0 {
		return Token{}, fmt.Errorf("%w: no positions", ErrBadToken)
	}
	t := Token{Revision: rev, Positions: map[string]LSN{}}
	prev := ""
	for len(p) > 0 {
		size, n := binary.Uvarint(p)
		if n <= 0 || n != uvarintLen(size) || size > uint64(len(p)-n) {
			return Token{}, fmt.Errorf("%w: bad cluster name length", ErrBadToken)
		}
		name := string(p[n : n+int(size)])
		p = p[n+int(size):]
		if !isIdentifier(name) {
			return Token{}, fmt.Errorf("%w: cluster name %q is not an identifier", ErrBadToken, name)
		}
		if len(t.Positions) > 0 && name <= prev {
			return Token{}, fmt.Errorf("%w: cluster %q out of order", ErrBadToken, name)
		}
		lsn, n := binary.Uvarint(p)
		if n <= 0 || n != uvarintLen(lsn) || lsn == 0 {
			return Token{}, fmt.Errorf("%w: bad position for cluster %q", ErrBadToken, name)
		}
		p = p[n:]
		t.Positions[name] = LSN(lsn)
		prev = name
	}
	return t, nil
}

// Merge returns the token that requires both t and o: per cluster the
// higher position, and the higher Revision.
func (t Token) Merge(o Token) Token {
	out := Token{Revision: max(t.Revision, o.Revision)}
	if len(t.Positions)+len(o.Positions) == 0 {
		return out
	}
	out.Positions = make(map[string]LSN, max(len(t.Positions), len(o.Positions)))
	maps.Copy(out.Positions, t.Positions)
	for name, lsn := range o.Positions {
		out.Positions[name] = max(out.Positions[name], lsn)
	}
	return out
}

// Advance returns t with cluster's position raised to lsn (a position is
// never lowered).
func (t Token) Advance(cluster string, lsn LSN) Token {
	out := Token{Revision: t.Revision, Positions: make(map[string]LSN, len(t.Positions)+1)}
	maps.Copy(out.Positions, t.Positions)
	out.Positions[cluster] = max(out.Positions[cluster], lsn)
	return out
}

// Position returns the token's position for cluster, 0 when it has none.
func (t Token) Position(cluster string) LSN { return t.Positions[cluster] }

// IsZero reports whether the token requires nothing anywhere.
func (t Token) IsZero() bool {
	for _, lsn := range t.Positions {
		if lsn != 0 {
			return false
		}
	}
	return true
}

// zigzag maps a signed varint value to the unsigned value it is stored as.
func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

// uvarintLen is the length of the minimal uvarint encoding of v.
func uvarintLen(v uint64) int {
	if v == 0 {
		return 1
	}
	return (bits.Len64(v) + 6) / 7
}

// isBase64URL reports whether c belongs to the base64url alphabet.
func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// isIdentifier applies the shard map's rule for cluster names: ASCII
// letters, digits, _ and $, not starting with a digit or $, at most 63
// bytes.
func isIdentifier(s string) bool {
	if s == "" || len(s) > maxClusterName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case '0' <= c && c <= '9', c == '$':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

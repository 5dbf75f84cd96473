package shardmap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrBadKey is wrapped by ParseKey and KeyFromBinary when a value is not a
// valid input for the key type.
var ErrBadKey = errors.New("invalid key value")

// ParseKey reads text the way PostgreSQL's input function for t does
// (PostgreSQL 15 int2in/int4in/int8in, textin, uuid_in), so a value
// accepted here is exactly a value the server accepts:
//
//   - smallint/int/bigint: optional leading and trailing white space
//     (space, \t, \n, \r, \v, \f), an optional sign, decimal digits only,
//     and the value must fit the type;
//   - text: any string without a NUL byte (PostgreSQL cannot store one);
//   - uuid: 32 hex digits of either case, optionally with a hyphen after
//     any group of four digits (but not at the end), optionally inside
//     braces; no white space.
func ParseKey(t KeyType, text string) (Key, error) {
	switch t {
	case KeyTypeSmallint:
		return parseIntKey(text, math.MinInt16, math.MaxInt16, "smallint")
	case KeyTypeInt:
		return parseIntKey(text, math.MinInt32, math.MaxInt32, "integer")
	case KeyTypeBigint:
		return parseIntKey(text, math.MinInt64, math.MaxInt64, "bigint")
	case KeyTypeText:
		if strings.IndexByte(text, 0) >= 0 {
			return Key{}, fmt.Errorf("%w: text cannot contain a NUL byte", ErrBadKey)
		}
		return TextKey(text), nil
	case KeyTypeUUID:
		u, ok := parseUUID(text)
		if !ok {
			return Key{}, fmt.Errorf("%w: invalid input syntax for type uuid: %q", ErrBadKey, text)
		}
		return UUIDKey(u), nil
	}
	return Key{}, fmt.Errorf("%w: unknown key type %q", ErrBadKey, string(t))
}

// isPGSpace is the C isspace() of the "C" locale, which PostgreSQL's
// integer input functions use to skip white space.
func isPGSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// parseIntKey accumulates in the negative range, as PostgreSQL does, so
// the most negative value of each type parses without overflow.
func parseIntKey(text string, lo, hi int64, typ string) (Key, error) {
	syntax := func() (Key, error) {
		return Key{}, fmt.Errorf("%w: invalid input syntax for type %s: %q", ErrBadKey, typ, text)
	}
	outOfRange := func() (Key, error) {
		return Key{}, fmt.Errorf("%w: value %q is out of range for type %s", ErrBadKey, text, typ)
	}
	i := 0
	for i < len(text) && isPGSpace(text[i]) {
		i++
	}
	neg := false
	if i < len(text) && (text[i] == '+' || text[i] == '-') {
		neg = text[i] == '-'
		i++
	}
	start := i
	var acc int64 // always <= 0
	overflow := false
	for i < len(text) && text[i] >= '0' && text[i] <= '9' {
		d := int64(text[i] - '0')
		if acc < (math.MinInt64+d)/10 { // acc*10-d would pass MinInt64
			overflow = true
		} else {
			acc = acc*10 - d
		}
		i++
	}
	if i == start {
		return syntax()
	}
	for i < len(text) && isPGSpace(text[i]) {
		i++
	}
	if i != len(text) {
		return syntax()
	}
	if overflow {
		return outOfRange()
	}
	if !neg {
		if acc == math.MinInt64 {
			return outOfRange()
		}
		acc = -acc
	}
	if acc < lo || acc > hi {
		return outOfRange()
	}
	return IntKey(acc), nil
}

// parseUUID follows uuid_in: pairs of hex digits, a hyphen allowed after
// every second byte except the last, optional surrounding braces.
func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	braces := false
	if strings.HasPrefix(s, "{") {
		braces = true
		s = s[1:]
	}
	for i := range 16 {
		if len(s) < 2 {
			return u, false
		}
		hi, ok1 := hexVal(s[0])
		lo, ok2 := hexVal(s[1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[i] = hi<<4 | lo
		s = s[2:]
		if len(s) > 0 && s[0] == '-' && i%2 == 1 && i < 15 {
			s = s[1:]
		}
	}
	if braces {
		if !strings.HasPrefix(s, "}") {
			return u, false
		}
		s = s[1:]
	}
	return u, s == ""
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// KeyFromBinary decodes a value in PostgreSQL's binary wire format (as
// sent in a Bind message with format code 1). For the integer key types
// the width is taken from the length, so an int2, int4 or int8 parameter
// is accepted for any integer column: 2, 4 or 8 bytes, big-endian, signed.
// Text is the raw bytes; uuid is exactly 16 bytes. The returned Key does
// not retain b.
func KeyFromBinary(t KeyType, b []byte) (Key, error) {
	switch t.Kind() {
	case KindInt:
		switch len(b) {
		case 2:
			return IntKey(int64(int16(binary.BigEndian.Uint16(b)))), nil
		case 4:
			return IntKey(int64(int32(binary.BigEndian.Uint32(b)))), nil
		case 8:
			return IntKey(int64(binary.BigEndian.Uint64(b))), nil
		}
		return Key{}, fmt.Errorf("%w: binary integer of %d bytes for type %s", ErrBadKey, len(b), t)
	case KindText:
		return ParseKey(KeyTypeText, string(b))
	case KindUUID:
		if len(b) != 16 {
			return Key{}, fmt.Errorf("%w: binary uuid of %d bytes", ErrBadKey, len(b))
		}
		return UUIDKey([16]byte(b)), nil
	}
	return Key{}, fmt.Errorf("%w: unknown key type %q", ErrBadKey, string(t))
}

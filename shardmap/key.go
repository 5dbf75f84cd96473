package shardmap

import (
	"cmp"
	"encoding/hex"
	"strconv"
	"strings"
)

// KeyKind is the family of a Key: integer, text or uuid.
type KeyKind uint8

// The kinds of Key. The zero Key has KindInvalid.
const (
	KindInvalid KeyKind = iota
	KindInt
	KindText
	KindUUID
)

// Key is one typed value of a distribution key. Keys are small comparable
// values: == means the same PostgreSQL value, and they can be map keys.
// All integer widths share KindInt, because PostgreSQL hashes and compares
// equal int2/int4/int8 values alike.
type Key struct {
	kind KeyKind
	i    int64
	s    string // text bytes, or the 16 raw bytes of a uuid
}

// IntKey is the key for an integer value (smallint, int or bigint column).
func IntKey(v int64) Key { return Key{kind: KindInt, i: v} }

// TextKey is the key for a text value; s holds the bytes PostgreSQL stores.
func TextKey(s string) Key { return Key{kind: KindText, s: s} }

// UUIDKey is the key for a uuid given as its 16 bytes in network order.
func UUIDKey(u [16]byte) Key { return Key{kind: KindUUID, s: string(u[:])} }

// Kind reports the family of k.
func (k Key) Kind() KeyKind { return k.kind }

// Int returns the value of an integer key (0 for other kinds).
func (k Key) Int() int64 { return k.i }

// Text returns the value of a text key ("" for other kinds).
func (k Key) Text() string {
	if k.kind != KindText {
		return ""
	}
	return k.s
}

// UUID returns the 16 bytes of a uuid key (zero for other kinds).
func (k Key) UUID() [16]byte {
	var u [16]byte
	if k.kind == KindUUID {
		copy(u[:], k.s)
	}
	return u
}

// String renders k as PostgreSQL's output function would: decimal for
// integers, the raw text, and the canonical lower-case hyphenated uuid.
func (k Key) String() string {
	switch k.kind {
	case KindInt:
		return strconv.FormatInt(k.i, 10)
	case KindText:
		return k.s
	case KindUUID:
		var buf [36]byte
		src := []byte(k.s)
		pos := 0
		for i, grp := range []int{4, 2, 2, 2, 6} {
			if i > 0 {
				buf[pos] = '-'
				pos++
			}
			hex.Encode(buf[pos:], src[:grp])
			pos += 2 * grp
			src = src[grp:]
		}
		return string(buf[:])
	}
	return "<invalid key>"
}

// Compare orders keys as PostgreSQL orders the column: integers
// numerically, text bytewise (the "C" collation), uuids bytewise. It
// returns -1, 0 or +1. Keys of different kinds order by kind, which only
// matters to keep the order total.
func (k Key) Compare(o Key) int {
	if k.kind != o.kind {
		return cmp.Compare(k.kind, o.kind)
	}
	if k.kind == KindInt {
		return cmp.Compare(k.i, o.i)
	}
	return strings.Compare(k.s, o.s)
}

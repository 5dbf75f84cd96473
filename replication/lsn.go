package replication

import (
	"errors"
	"fmt"
	"strconv"
)

// LSN is a position in a PostgreSQL cluster's write-ahead log (pg_lsn).
type LSN uint64

// maxLSNComponent is the longest hexadecimal half PostgreSQL accepts.
const maxLSNComponent = 8

// errBadLSN is wrapped by every ParseLSN error.
var errBadLSN = errors.New("invalid input syntax for type pg_lsn")

// ParseLSN reads an LSN in PostgreSQL's text form, "16/B374D848": two
// groups of 1 to 8 hexadecimal digits (either case) around a slash,
// nothing else (no spaces, no sign), as pg_lsn's input function accepts.
func ParseLSN(s string) (LSN, error) {
	slash := hexPrefix(s)
	if slash < 1 || slash > maxLSNComponent || slash >= len(s) || s[slash] != '/' {
		return 0, fmt.Errorf("%w: %q", errBadLSN, s)
	}
	lo := s[slash+1:]
	if n := hexPrefix(lo); n < 1 || n > maxLSNComponent || n != len(lo) {
		return 0, fmt.Errorf("%w: %q", errBadLSN, s)
	}
	// Both halves are 1-8 hex digits, so these cannot fail.
	hi, _ := strconv.ParseUint(s[:slash], 16, 32)
	low, _ := strconv.ParseUint(lo, 16, 32)
	return LSN(hi<<32 | low), nil
}

// hexPrefix returns the number of leading hexadecimal digits of s.
func hexPrefix(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return i
		}
	}
	return len(s)
}

// String formats l as PostgreSQL prints a pg_lsn: upper-case hexadecimal
// halves without leading zeros, e.g. "16/B374D848" or "0/0".
func (l LSN) String() string {
	b := make([]byte, 0, 17)
	b = strconv.AppendUint(b, uint64(l)>>32, 16)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(l)&0xFFFFFFFF, 16)
	for i, c := range b {
		if 'a' <= c && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

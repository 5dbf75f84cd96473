package executor

import (
	"bytes"
	"encoding/binary"
	"math"
)

// comparator orders two non-NULL values in binary format as PostgreSQL's
// default b-tree operator class orders them.
type comparator func(a, b []byte) int

// Type OIDs with a comparator: their order does not depend on a collation
// or a setting.
const (
	oidBool        = 16
	oidBytea       = 17
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidOID         = 26
	oidFloat4      = 700
	oidFloat8      = 701
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestampTZ = 1184
	oidNumeric     = 1700
	oidUUID        = 2950
)

// comparatorFor returns the comparator of a type, if the router can order
// it exactly.
func comparatorFor(oid uint32) (comparator, bool) {
	switch oid {
	case oidBool:
		return compareBytes, true // false (0) < true (1)
	case oidInt2:
		return func(a, b []byte) int {
			return cmp3(int16(binary.BigEndian.Uint16(a)), int16(binary.BigEndian.Uint16(b)))
		}, true
	case oidInt4, oidDate:
		return func(a, b []byte) int {
			return cmp3(int32(binary.BigEndian.Uint32(a)), int32(binary.BigEndian.Uint32(b)))
		}, true
	case oidInt8, oidTime, oidTimestamp, oidTimestampTZ:
		return func(a, b []byte) int {
			return cmp3(int64(binary.BigEndian.Uint64(a)), int64(binary.BigEndian.Uint64(b)))
		}, true
	case oidOID:
		return func(a, b []byte) int { return cmp3(binary.BigEndian.Uint32(a), binary.BigEndian.Uint32(b)) }, true
	case oidFloat4:
		return func(a, b []byte) int {
			return compareFloat(float64(math.Float32frombits(binary.BigEndian.Uint32(a))), float64(math.Float32frombits(binary.BigEndian.Uint32(b))))
		}, true
	case oidFloat8:
		return func(a, b []byte) int {
			return compareFloat(math.Float64frombits(binary.BigEndian.Uint64(a)), math.Float64frombits(binary.BigEndian.Uint64(b)))
		}, true
	case oidNumeric:
		return compareNumeric, true
	case oidUUID, oidBytea:
		return compareBytes, true
	}
	return nil, false
}

func compareBytes(a, b []byte) int { return bytes.Compare(a, b) }

func cmp3[T int16 | int32 | int64 | uint32](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareFloat orders floats as PostgreSQL does: NaN above everything
// (and equal to itself), -0 equal to 0.
func compareFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// numeric's binary form: ndigits, weight, sign, dscale (int16 each), then
// ndigits base-10000 digits, the first of weight 10000^weight.
const (
	numericPos  = 0x0000
	numericNeg  = 0x4000
	numericNaN  = 0xC000
	numericPInf = 0xD000
	numericNInf = 0xF000
)

// numericRank places the special values: -Infinity, finite, +Infinity,
// NaN.
func numericRank(sign uint16) int {
	switch sign {
	case numericNInf:
		return 0
	case numericPInf:
		return 2
	case numericNaN:
		return 3
	}
	return 1
}

func compareNumeric(a, b []byte) int {
	if len(a) < 8 || len(b) < 8 {
		return bytes.Compare(a, b)
	}
	sa, sb := binary.BigEndian.Uint16(a[4:]), binary.BigEndian.Uint16(b[4:])
	if ra, rb := numericRank(sa), numericRank(sb); ra != rb || ra != 1 {
		return cmp3(int32(ra), int32(rb))
	}
	va, vb := viewNumeric(a), viewNumeric(b)
	za, zb := va.n == 0, vb.n == 0
	// The sign of a value: -1, 0 or +1.
	signOf := func(zero bool, sign uint16) int {
		switch {
		case zero:
			return 0
		case sign == numericNeg:
			return -1
		}
		return 1
	}
	ga, gb := signOf(za, sa), signOf(zb, sb)
	if ga != gb {
		return cmp3(int32(ga), int32(gb))
	}
	if ga == 0 {
		return 0
	}
	m := compareMagnitude(va, vb)
	if ga < 0 {
		return -m
	}
	return m
}

// numericView is a numeric's digits read in place: digit i (of n, after
// leading and trailing zero digits are skipped) has weight w-i.
type numericView struct {
	b     []byte
	first int // index of the first non-zero digit
	n     int
	w     int
}

func viewNumeric(v []byte) numericView {
	n := int(int16(binary.BigEndian.Uint16(v)))
	w := int(int16(binary.BigEndian.Uint16(v[2:])))
	if max := (len(v) - 8) / 2; n > max {
		n = max
	}
	digit := func(i int) int16 { return int16(binary.BigEndian.Uint16(v[8+2*i:])) }
	first := 0
	for first < n && digit(first) == 0 {
		first++
		w--
	}
	for n > first && digit(n-1) == 0 {
		n--
	}
	return numericView{b: v, first: first, n: n - first, w: w}
}

func (x numericView) digit(i int) int16 {
	if i >= x.n {
		return 0
	}
	return int16(binary.BigEndian.Uint16(x.b[8+2*(x.first+i):]))
}

func compareMagnitude(a, b numericView) int {
	if a.w != b.w {
		return cmp3(int32(a.w), int32(b.w))
	}
	for i := 0; i < max(a.n, b.n); i++ {
		if x, y := a.digit(i), b.digit(i); x != y {
			return cmp3(x, y)
		}
	}
	return 0
}

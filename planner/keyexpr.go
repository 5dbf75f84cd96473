package planner

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// KeyExpr is one value a distribution key is compared with: a constant
// known when planning, or a $n parameter known at Bind.
type KeyExpr struct {
	// Param is the 1-based parameter number, 0 for a constant.
	Param int
	// Const is the constant's value when Param is 0 and Null is false.
	Const shardmap.Key
	// Null is true for the NULL constant (it matches no row).
	Null bool
	// Array is set for key = ANY($n): the parameter is an array whose
	// elements are the values.
	Array bool
}

func (k KeyExpr) String() string {
	switch {
	case k.Array:
		return fmt.Sprintf("ANY($%d)", k.Param)
	case k.Param > 0:
		return fmt.Sprintf("$%d", k.Param)
	case k.Null:
		return "NULL"
	case k.Const.Kind() == shardmap.KindInt:
		return k.Const.String()
	}
	return "'" + strings.ReplaceAll(k.Const.String(), "'", "''") + "'"
}

// Params are the parameter values of one execution, as they arrive in a
// Bind message.
type Params struct {
	Values  [][]byte // nil element = NULL
	Formats []int16  // 0 = text, 1 = binary; one entry applies to all; none = all text
}

// Format is the format (0 text, 1 binary) of parameter i (0-based).
func (p Params) Format(i int) int16 { return p.format(i) }

func (p Params) format(i int) int16 {
	switch len(p.Formats) {
	case 0:
		return 0
	case 1:
		return p.Formats[0]
	}
	if i < len(p.Formats) {
		return p.Formats[i]
	}
	return 0
}

// value evaluates k for one execution. ok is false for NULL.
func (k KeyExpr) value(t shardmap.KeyType, p Params) (key shardmap.Key, ok bool, err error) {
	if k.Param == 0 {
		return k.Const, !k.Null, nil
	}
	i := k.Param - 1
	if i >= len(p.Values) {
		return shardmap.Key{}, false, pgerror.New(pgerror.ProtocolViolation, "bind message supplies %d parameters, but the statement uses $%d", len(p.Values), k.Param)
	}
	v := p.Values[i]
	if v == nil {
		return shardmap.Key{}, false, nil
	}
	if p.format(i) == 1 {
		key, err = shardmap.KeyFromBinary(t, v)
		if err != nil {
			return key, false, pgerror.New(pgerror.InvalidParameterValue, "parameter $%d: %v", k.Param, err)
		}
		return key, true, nil
	}
	if key, ok := decimalKey(t, v); ok {
		return key, true, nil
	}
	key, err = parseKeyText(t, string(v))
	return key, err == nil, err
}

// decimalKey reads an integer key written as plain decimal digits with an
// optional sign, the usual text of a Bind parameter, without converting
// it to a string; ok is false for anything else, which parseKeyText then
// reads (or rejects) as PostgreSQL would.
func decimalKey(t shardmap.KeyType, v []byte) (shardmap.Key, bool) {
	if t.Kind() != shardmap.KindInt || len(v) == 0 {
		return shardmap.Key{}, false
	}
	digits, neg := v, false
	if v[0] == '-' || v[0] == '+' {
		digits, neg = v[1:], v[0] == '-'
	}
	if len(digits) == 0 || len(digits) > 18 {
		return shardmap.Key{}, false // 18 digits cannot overflow int64
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return shardmap.Key{}, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return intKey(t, n)
}

// values evaluates k for one execution as a list of keys: one for a scalar
// (none for NULL), the non-NULL elements for an array parameter.
func (k KeyExpr) values(t shardmap.KeyType, p Params) ([]shardmap.Key, error) {
	if !k.Array {
		key, ok, err := k.value(t, p)
		if err != nil || !ok {
			return nil, err
		}
		return []shardmap.Key{key}, nil
	}
	i := k.Param - 1
	if i >= len(p.Values) {
		return nil, pgerror.New(pgerror.ProtocolViolation, "bind message supplies %d parameters, but the statement uses $%d", len(p.Values), k.Param)
	}
	v := p.Values[i]
	if v == nil {
		return nil, nil
	}
	var elems [][]byte
	var err error
	binary := p.format(i) == 1
	if binary {
		elems, err = binaryArrayElements(v)
	} else {
		elems, err = textArrayElements(string(v))
	}
	if err != nil {
		return nil, pgerror.New(pgerror.InvalidTextRepresentation, "malformed array literal: \"%s\"", v)
	}
	keys := make([]shardmap.Key, 0, len(elems))
	for _, e := range elems {
		if e == nil {
			continue
		}
		var key shardmap.Key
		if binary {
			key, err = shardmap.KeyFromBinary(t, e)
		} else {
			key, err = parseKeyText(t, string(e))
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// textArrayElements splits a one- or more-dimensional array literal
// ({1,2,"a b",NULL}) into its elements; nil stands for NULL.
func textArrayElements(s string) ([][]byte, error) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "="); strings.HasPrefix(s, "[") && i > 0 {
		s = s[i+1:] // dimension decoration: [1:3]={...}
	}
	var out [][]byte
	var cur []byte
	depth, quoted, escaped, had, isQuoted := 0, false, false, false, false
	flush := func() {
		if !had {
			return
		}
		v := strings.TrimSpace(string(cur))
		if !isQuoted && strings.EqualFold(v, "NULL") {
			out = append(out, nil)
		} else if isQuoted {
			out = append(out, cur)
		} else {
			out = append(out, []byte(v))
		}
		cur, had, isQuoted = nil, false, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			cur, escaped, had = append(cur, c), false, true
		case c == '\\':
			escaped = true
		case quoted:
			if c == '"' {
				quoted = false
			} else {
				cur = append(cur, c)
			}
		case c == '"':
			quoted, isQuoted, had = true, true, true
		case c == '{':
			depth++
		case c == '}':
			flush()
			depth--
		case c == ',':
			flush()
		case c == ' ' || c == '\t' || c == '\n':
			if had && !isQuoted {
				cur = append(cur, c)
			}
		default:
			cur, had = append(cur, c), true
		}
	}
	if depth != 0 || quoted || escaped {
		return nil, fmt.Errorf("unbalanced")
	}
	return out, nil
}

// binaryArrayElements reads array_send's format: ndim, has-nulls flag,
// element type, each dimension's size and lower bound, then the elements
// as length and bytes (-1 for NULL).
func binaryArrayElements(b []byte) ([][]byte, error) {
	if len(b) < 12 {
		return nil, fmt.Errorf("short")
	}
	ndim := int(int32(binary.BigEndian.Uint32(b)))
	if ndim < 0 || ndim > 6 || len(b) < 12+8*ndim {
		return nil, fmt.Errorf("bad dimensions")
	}
	n := 1
	if ndim == 0 {
		n = 0
	}
	for d := 0; d < ndim; d++ {
		size := int(int32(binary.BigEndian.Uint32(b[12+8*d:])))
		if size < 0 || size > 1<<24 {
			return nil, fmt.Errorf("bad size")
		}
		n *= size
	}
	p := 12 + 8*ndim
	out := make([][]byte, 0, n)
	for range n {
		if p+4 > len(b) {
			return nil, fmt.Errorf("short")
		}
		l := int(int32(binary.BigEndian.Uint32(b[p:])))
		p += 4
		if l < 0 {
			out = append(out, nil)
			continue
		}
		if p+l > len(b) {
			return nil, fmt.Errorf("short")
		}
		out = append(out, b[p:p+l])
		p += l
	}
	return out, nil
}

// ParseKeyText parses a key written as text the way the key type's input
// function would, with PostgreSQL's SQLSTATE and message on failure.
func ParseKeyText(t shardmap.KeyType, s string) (shardmap.Key, error) { return parseKeyText(t, s) }

// parseKeyText parses a key literal the way the key type's input function
// would, with PostgreSQL's SQLSTATE on failure.
func parseKeyText(t shardmap.KeyType, s string) (shardmap.Key, error) {
	k, err := shardmap.ParseKey(t, s)
	if err != nil {
		return k, keyInputError(t, s)
	}
	return k, nil
}

// keyInputError is the error PostgreSQL's input function gives for s.
func keyInputError(t shardmap.KeyType, s string) error {
	if t.Kind() == shardmap.KindInt && isIntegerText(s) {
		return pgerror.New(pgerror.NumericValueOutOfRange, "value \"%s\" is out of range for type %s", s, t.MessageName())
	}
	return pgerror.New(pgerror.InvalidTextRepresentation, "invalid input syntax for type %s: \"%s\"", t.MessageName(), s)
}

func isIntegerText(s string) bool {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	if i < j && (s[i] == '-' || s[i] == '+') {
		i++
	}
	if i == j {
		return false
	}
	for ; i < j; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

package planner

import (
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
}

func (k KeyExpr) String() string {
	switch {
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
	key, err = parseKeyText(t, string(v))
	return key, err == nil, err
}

// parseKeyText parses a key literal the way the key type's input function
// would, with PostgreSQL's SQLSTATE on failure.
func parseKeyText(t shardmap.KeyType, s string) (shardmap.Key, error) {
	k, err := shardmap.ParseKey(t, s)
	if err != nil {
		return k, keyInputError(t, s, err)
	}
	return k, nil
}

func keyInputError(t shardmap.KeyType, s string, err error) error {
	if t.Kind() == shardmap.KindInt && isIntegerText(s) {
		return pgerror.New(pgerror.NumericValueOutOfRange, "value \"%s\" is out of range for type %s", s, pgTypeName(t))
	}
	_ = err
	return pgerror.New(pgerror.InvalidTextRepresentation, "invalid input syntax for type %s: \"%s\"", pgTypeName(t), s)
}

// pgTypeName is the name PostgreSQL uses for a key type in messages.
func pgTypeName(t shardmap.KeyType) string {
	switch t {
	case shardmap.KeyTypeSmallint:
		return "smallint"
	case shardmap.KeyTypeInt:
		return "integer"
	case shardmap.KeyTypeBigint:
		return "bigint"
	}
	return string(t)
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

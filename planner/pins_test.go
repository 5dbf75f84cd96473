package planner

import (
	"strconv"
	"testing"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// intKey and decimalKey read integer keys without making strings; they
// must agree with ParseKey wherever they accept a value.
func TestIntegerKeysWithoutText(t *testing.T) {
	texts := []string{"0", "-0", "+0", "7", "-7", "+7", "007", "32767", "32768", "-32768", "-32769",
		"2147483647", "2147483648", "-2147483648", "-2147483649", "999999999999999999", "-999999999999999999",
		"9223372036854775807", "-9223372036854775808", "9223372036854775808", "99999999999999999999",
		" 7", "7 ", "", "-", "+", "7a", "1e3", "0x10"}
	for _, kt := range []shardmap.KeyType{shardmap.KeyTypeSmallint, shardmap.KeyTypeInt, shardmap.KeyTypeBigint, shardmap.KeyTypeText} {
		for _, text := range texts {
			want, err := shardmap.ParseKey(kt, text)
			if got, ok := decimalKey(kt, []byte(text)); ok && (err != nil || got != want) {
				t.Errorf("decimalKey(%s, %q) = %v, ParseKey gives %v, %v", kt, text, got, want, err)
			}
			v, perr := strconv.ParseInt(text, 10, 64)
			if kt.Kind() != shardmap.KindInt || perr != nil || text[0] == '+' || text[0] == '0' && len(text) > 1 {
				continue
			}
			got, ok := intKey(kt, v)
			if ok != (err == nil) || ok && got != want {
				t.Errorf("intKey(%s, %d) = %v, %v; ParseKey gives %v, %v", kt, v, got, ok, want, err)
			}
		}
	}
}

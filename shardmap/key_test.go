package shardmap

import (
	"errors"
	"math"
	"testing"
)

// Expected results were checked against PostgreSQL 15 (see also the live
// test in pghash_live_test.go, which compares acceptance with the server).
func TestParseKeyIntegers(t *testing.T) {
	cases := []struct {
		typ  KeyType
		in   string
		want int64
		ok   bool
	}{
		{KeyTypeSmallint, " +42 ", 42, true},
		{KeyTypeSmallint, "-0", 0, true},
		{KeyTypeSmallint, "\t5\n", 5, true},
		{KeyTypeSmallint, "\v7\f", 7, true},
		{KeyTypeSmallint, "007", 7, true},
		{KeyTypeSmallint, "-32768", -32768, true},
		{KeyTypeSmallint, "32767", 32767, true},
		{KeyTypeSmallint, "32768", 0, false},
		{KeyTypeSmallint, "1e3", 0, false},
		{KeyTypeSmallint, "", 0, false},
		{KeyTypeSmallint, " ", 0, false},
		{KeyTypeSmallint, "0x10", 0, false},
		{KeyTypeSmallint, "+-1", 0, false},
		{KeyTypeSmallint, "1_000", 0, false},
		{KeyTypeSmallint, "- 1", 0, false},
		{KeyTypeSmallint, "+", 0, false},
		{KeyTypeInt, "-2147483648", math.MinInt32, true},
		{KeyTypeInt, "2147483647", math.MaxInt32, true},
		{KeyTypeInt, "2147483648", 0, false},
		{KeyTypeInt, "-2147483649", 0, false},
		{KeyTypeBigint, "-9223372036854775808", math.MinInt64, true},
		{KeyTypeBigint, "9223372036854775807", math.MaxInt64, true},
		{KeyTypeBigint, "9223372036854775808", 0, false},
		{KeyTypeBigint, "-9223372036854775809", 0, false},
		{KeyTypeBigint, "99999999999999999999999", 0, false},
		{KeyTypeBigint, "00000000000000000000000000001", 1, true},
		{KeyTypeBigint, "12 3", 0, false},
	}
	for _, c := range cases {
		k, err := ParseKey(c.typ, c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseKey(%s, %q): err = %v, want ok=%v", c.typ, c.in, err, c.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrBadKey) {
				t.Errorf("ParseKey(%s, %q): error %v does not wrap ErrBadKey", c.typ, c.in, err)
			}
			continue
		}
		if k.Kind() != KindInt || k.Int() != c.want {
			t.Errorf("ParseKey(%s, %q) = %v, want %d", c.typ, c.in, k, c.want)
		}
	}
}

func TestParseKeyUUID(t *testing.T) {
	const canonical = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
	good := []string{
		canonical,
		"A0EEBC999C0B4EF8BB6D6BB9BD380A11",
		"{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",
		"a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
		"{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}",
	}
	for _, in := range good {
		k, err := ParseKey(KeyTypeUUID, in)
		if err != nil {
			t.Errorf("ParseKey(uuid, %q): %v", in, err)
			continue
		}
		if k.String() != canonical {
			t.Errorf("ParseKey(uuid, %q) = %s, want %s", in, k, canonical)
		}
	}
	bad := []string{
		"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
		" a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 ",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
		"a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11",
		"a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
		"a0eebc999c0b4ef8bb6d6bb9bd380a1",
		"a0eebc999c0b4ef8bb6d6bb9bd380a111",
		"g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"",
		"{}",
	}
	for _, in := range bad {
		if k, err := ParseKey(KeyTypeUUID, in); err == nil {
			t.Errorf("ParseKey(uuid, %q) = %v, want an error", in, k)
		}
	}
}

func TestParseKeyText(t *testing.T) {
	if k, err := ParseKey(KeyTypeText, " spaced ✓ "); err != nil || k.Text() != " spaced ✓ " {
		t.Errorf("text is taken verbatim: got %q, %v", k.Text(), err)
	}
	if _, err := ParseKey(KeyTypeText, "a\x00b"); err == nil {
		t.Error("text with NUL accepted; PostgreSQL cannot store it")
	}
	if _, err := ParseKey("integer", "1"); err == nil {
		t.Error("unknown key type accepted")
	}
}

func TestKeyFromBinary(t *testing.T) {
	cases := []struct {
		typ  KeyType
		in   []byte
		want Key
	}{
		{KeyTypeBigint, []byte{0xff, 0xfe}, IntKey(-2)},
		{KeyTypeSmallint, []byte{0x00, 0x00, 0x01, 0x00}, IntKey(256)},
		{KeyTypeInt, []byte{0x80, 0, 0, 0, 0, 0, 0, 0}, IntKey(math.MinInt64)},
		{KeyTypeText, []byte("héllo"), TextKey("héllo")},
		{KeyTypeUUID, []byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11},
			mustKey(t, KeyTypeUUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
	}
	for _, c := range cases {
		got, err := KeyFromBinary(c.typ, c.in)
		if err != nil || got != c.want {
			t.Errorf("KeyFromBinary(%s, %x) = %v, %v; want %v", c.typ, c.in, got, err, c.want)
		}
	}
	for _, c := range []struct {
		typ KeyType
		in  []byte
	}{
		{KeyTypeInt, []byte{1, 2, 3}},
		{KeyTypeBigint, nil},
		{KeyTypeUUID, make([]byte, 15)},
		{KeyTypeText, []byte{'a', 0}},
	} {
		if _, err := KeyFromBinary(c.typ, c.in); !errors.Is(err, ErrBadKey) {
			t.Errorf("KeyFromBinary(%s, %x): err = %v, want ErrBadKey", c.typ, c.in, err)
		}
	}
}

func TestKeyCompareFollowsPostgresOrder(t *testing.T) {
	ordered := [][]Key{
		{IntKey(math.MinInt64), IntKey(-1), IntKey(0), IntKey(2), IntKey(10)},
		// "C" collation: bytewise, so upper case sorts before lower case
		// and "é" (0xc3 0xa9) after "z".
		{TextKey(""), TextKey("B"), TextKey("a"), TextKey("ab"), TextKey("b"), TextKey("z"), TextKey("é")},
		{mustKey(t, KeyTypeUUID, "00000000-0000-0000-0000-000000000001"),
			mustKey(t, KeyTypeUUID, "7fffffff-ffff-ffff-ffff-ffffffffffff"),
			mustKey(t, KeyTypeUUID, "80000000-0000-0000-0000-000000000000")},
	}
	for _, keys := range ordered {
		for i := range keys {
			for j := range keys {
				want := 0
				if i < j {
					want = -1
				} else if i > j {
					want = 1
				}
				if got := keys[i].Compare(keys[j]); got != want {
					t.Errorf("%v.Compare(%v) = %d, want %d", keys[i], keys[j], got, want)
				}
			}
		}
	}
}

func TestKeyAccessorsAndString(t *testing.T) {
	u := mustKey(t, KeyTypeUUID, "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}")
	if u.String() != "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" || u.Kind() != KindUUID || u.UUID()[0] != 0xa0 {
		t.Errorf("uuid key: %v %v %x", u, u.Kind(), u.UUID())
	}
	if IntKey(-5).String() != "-5" || TextKey("x").String() != "x" || (Key{}).String() != "<invalid key>" {
		t.Error("String renders like PostgreSQL's output functions")
	}
	if TextKey("x").Int() != 0 || IntKey(1).Text() != "" || IntKey(1).UUID() != [16]byte{} {
		t.Error("accessors of another kind return zero values")
	}
	if IntKey(7) != mustKey(t, KeyTypeSmallint, " 7") {
		t.Error("equal values are == whatever their text form")
	}
}

func mustKey(t testing.TB, typ KeyType, s string) Key {
	t.Helper()
	k, err := ParseKey(typ, s)
	if err != nil {
		t.Fatalf("ParseKey(%s, %q): %v", typ, s, err)
	}
	return k
}

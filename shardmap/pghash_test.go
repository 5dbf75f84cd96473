package shardmap

import (
	"math"
	"math/big"
	"testing"
)

// Pairs captured from PostgreSQL 15 on amd64, e.g.
// SELECT v, hashint8extended(v, 0) FROM unnest(...) v. The live test
// (pghash_live_test.go) checks thousands more against a running server.
func TestHashKnownPairs(t *testing.T) {
	int2 := map[int16]int64{
		-32768: 8455483389771436374, -1: -1888257769727981238, 0: 4154612158245552303,
		1: -3670598878359251130, 32767: 1790040721271588170,
	}
	for v, want := range int2 {
		if got := HashInt2Extended(v, 0); got != want {
			t.Errorf("hashint2extended(%d, 0) = %d, want %d", v, got, want)
		}
	}
	int4 := map[int32]int64{
		math.MinInt32: 1977219185673256887, -1: -1888257769727981238, 0: 4154612158245552303,
		42: 8010225493015854792, math.MaxInt32: -9109110466470504941,
	}
	for v, want := range int4 {
		if got := HashInt4Extended(v, 0); got != want {
			t.Errorf("hashint4extended(%d, 0) = %d, want %d", v, got, want)
		}
	}
	int8 := map[int64]int64{
		math.MinInt64: -9109110466470504941, -2147483649: -9109110466470504941, -1: -1888257769727981238,
		0: 4154612158245552303, 5: -9138765687874534020, 2147483648: 1977219185673256887,
		math.MaxInt64: 1977219185673256887,
	}
	for v, want := range int8 {
		if got := HashInt8Extended(v, 0); got != want {
			t.Errorf("hashint8extended(%d, 0) = %d, want %d", v, got, want)
		}
		if got := HashKey(IntKey(v)); got != want {
			t.Errorf("HashKey(IntKey(%d)) = %d, want %d", v, got, want)
		}
	}
	// Every tail length of lookup3 (0..11 bytes, then one full block and
	// more), and multibyte UTF-8.
	text := map[string]int64{
		"": -6939563903564495251, "a": 3591986179850072241, "ab": 2833316173711343549,
		"abc": -6747756470228489321, "abcd": -1038429303365892052, "abcde": 3076356108696143428,
		"abcdefgh": -8882191227074733005, "abcdefghi": -3278210106038014113,
		"abcdefghij": -3183301415634409076, "abcdefghijk": 3112909444737856467,
		"abcdefghijkl": -7556637188122330412, "abcdefghijklm": 8871624171452417744,
		"hello world!x": -6683131005855957752, "héllo": 2465157995015290115,
		"héllo wörld": 6639232088034648728, "日本語テキスト": 7199576139645017696,
	}
	for v, want := range text {
		if got := HashTextExtended(v, 0); got != want {
			t.Errorf("hashtextextended(%q, 0) = %d, want %d", v, got, want)
		}
		if got := HashKey(TextKey(v)); got != want {
			t.Errorf("HashKey(TextKey(%q)) = %d, want %d", v, got, want)
		}
	}
	uuids := map[string]int64{
		"00000000-0000-0000-0000-000000000000": -6859010066814654381,
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11": 7543054272012930821,
		"ffffffff-ffff-ffff-ffff-ffffffffffff": 293445543803463785,
	}
	for v, want := range uuids {
		if got := HashKey(mustKey(t, KeyTypeUUID, v)); got != want {
			t.Errorf("uuid_hash_extended('%s', 0) = %d, want %d", v, got, want)
		}
	}
	// Non-zero seeds take the extra mixing step.
	if got := HashInt8Extended(5, 42); got != 2465487026389196815 {
		t.Errorf("hashint8extended(5, 42) = %d", got)
	}
	if got := HashTextExtended("abcdefghijklmnop", 7); got != 1678787806749254441 {
		t.Errorf("hashtextextended('abcdefghijklmnop', 7) = %d", got)
	}
	if HashKey(Key{}) != 0 {
		t.Error("the zero Key hashes to 0")
	}
}

func TestIntegerWidthsHashAlike(t *testing.T) {
	for _, v := range []int64{math.MinInt32, math.MinInt16, -2, -1, 0, 1, 77, math.MaxInt16, math.MaxInt32} {
		h8 := HashInt8Extended(v, 0)
		if h4 := HashInt4Extended(int32(v), 0); h4 != h8 {
			t.Errorf("%d: int4 %d != int8 %d", v, h4, h8)
		}
		if v >= math.MinInt16 && v <= math.MaxInt16 {
			if h2 := HashInt2Extended(int16(v), 0); h2 != h8 {
				t.Errorf("%d: int2 %d != int8 %d", v, h2, h8)
			}
		}
	}
}

func TestEvenHashRanges(t *testing.T) {
	two := EvenHashRanges([]string{"a", "b"})
	if two[0] != (HashRange{"a", math.MinInt64, -1}) || two[1] != (HashRange{"b", 0, math.MaxInt64}) {
		t.Errorf("two clusters split at 0: %v", two)
	}
	four := EvenHashRanges([]string{"a", "b", "c", "d"})
	wantMins := []int64{math.MinInt64, -1 << 62, 0, 1 << 62}
	for i, r := range four {
		if r.Min != wantMins[i] {
			t.Errorf("four clusters: range %d starts at %d, want %d", i, r.Min, wantMins[i])
		}
	}
	// For any N the ranges tile the space, sizes differ by at most one,
	// and every bound is -2^63 + floor(i * 2^64 / N) exactly.
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	two63 := new(big.Int).Lsh(big.NewInt(1), 63)
	for _, n := range []int{1, 2, 3, 5, 7, 10, 16, 100, 1000, 65537} {
		names := make([]string, n)
		rs := EvenHashRanges(names)
		if rs[0].Min != math.MinInt64 || rs[n-1].Max != math.MaxInt64 {
			t.Fatalf("N=%d: does not cover the ends", n)
		}
		for i := range rs {
			want := new(big.Int).Mul(big.NewInt(int64(i)), two64)
			want.Quo(want, big.NewInt(int64(n)))
			want.Sub(want, two63)
			if !want.IsInt64() || want.Int64() != rs[i].Min {
				t.Fatalf("N=%d: bound %d = %d, want %s", n, i, rs[i].Min, want)
			}
			if i > 0 && rs[i].Min != rs[i-1].Max+1 {
				t.Fatalf("N=%d: gap or overlap before range %d", n, i)
			}
		}
	}
}

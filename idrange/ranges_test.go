package idrange

import (
	"errors"
	"testing"
)

func TestRanges(t *testing.T) {
	cases := []struct {
		typ    string
		slot   int
		lo, hi int64
		err    error
	}{
		{"bigint", 0, 1, 1 << 48, nil},
		{"bigint", 1, 1<<48 + 1, 2 << 48, nil},
		{"bigint", 32766, 32766<<48 + 1, 32767 << 48, nil},
		{"bigint", 32767, 0, 0, ErrSlotTooHigh},
		{"integer", 0, 1, 1 << 24, nil},
		{"integer", 3, 3<<24 + 1, 4 << 24, nil},
		{"integer", 126, 126<<24 + 1, 127 << 24, nil},
		{"integer", 127, 0, 0, ErrSlotTooHigh},
		{"smallint", 2, 513, 768, nil},
		{"smallint", 127, 0, 0, ErrSlotTooHigh},
		{"bigint", -1, 0, 0, ErrSlotTooHigh},
	}
	for _, c := range cases {
		lo, hi, err := Range(c.typ, c.slot)
		if !errors.Is(err, c.err) || lo != c.lo || hi != c.hi {
			t.Errorf("Range(%s, %d) = %d, %d, %v; want %d, %d, %v", c.typ, c.slot, lo, hi, err, c.lo, c.hi, c.err)
		}
	}
	if _, _, err := Range("numeric", 0); err == nil {
		t.Error("Range of a numeric sequence did not fail")
	}
	// Neighbouring slots never overlap and leave no gap.
	for _, typ := range []string{"bigint", "integer", "smallint"} {
		for k := 0; k < 100; k++ {
			_, hi, _ := Range(typ, k)
			lo, _, _ := Range(typ, k+1)
			if lo != hi+1 {
				t.Errorf("%s slots %d and %d: %d then %d", typ, k, k+1, hi, lo)
			}
		}
	}
}

package idrange

import (
	"errors"
	"fmt"
)

// Widths of a slot's range, by the sequence's type: 2^48 values for
// bigint (32767 slots), 2^24 for integer and 2^8 for smallint (127 slots).
// Slot k hands out k*width+1 through (k+1)*width.
const (
	BigintWidth   = int64(1) << 48
	IntegerWidth  = int64(1) << 24
	SmallintWidth = int64(1) << 8
)

// ErrSlotTooHigh is returned when a cluster's slot lies beyond what a
// sequence type can give every slot.
var ErrSlotTooHigh = errors.New("idrange: slot beyond the sequence type's ranges")

// Range returns the first and last value a sequence of type typ (bigint,
// integer or smallint, as format_type names them) may hand out in slot.
func Range(typ string, slot int) (lo, hi int64, err error) {
	var width, max int64
	switch typ {
	case "bigint":
		width, max = BigintWidth, 1<<63-1
	case "integer":
		width, max = IntegerWidth, 1<<31-1
	case "smallint":
		width, max = SmallintWidth, 1<<15-1
	default:
		return 0, 0, fmt.Errorf("idrange: sequences of type %q have no ranges", typ)
	}
	if slot < 0 || int64(slot) >= max/width {
		return 0, 0, fmt.Errorf("%w: slot %d, %s sequences have %d slots; use bigint", ErrSlotTooHigh, slot, typ, max/width)
	}
	lo = int64(slot)*width + 1
	return lo, lo + width - 1, nil
}

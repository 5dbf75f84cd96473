package executor

import (
	"encoding/binary"
	"math"
	"testing"
)

func TestCompareFloatFollowsPostgres(t *testing.T) {
	vals := []float64{math.Inf(-1), -1e308, -1, math.Copysign(0, -1), 0, 1e-300, 2, math.Inf(1), math.NaN()}
	for i := range vals {
		for j := range vals {
			got := compareFloat(vals[i], vals[j])
			want := cmp3(int32(i), int32(j))
			if (i == 3 && j == 4) || (i == 4 && j == 3) {
				want = 0 // -0 = 0
			}
			if got != want {
				t.Errorf("compare(%v, %v) = %d, want %d", vals[i], vals[j], got, want)
			}
		}
	}
}

// numericBinary encodes a numeric the way numeric_send does.
func numericBinary(sign uint16, weight int16, digits ...int16) []byte {
	b := make([]byte, 8+2*len(digits))
	binary.BigEndian.PutUint16(b, uint16(len(digits)))
	binary.BigEndian.PutUint16(b[2:], uint16(weight))
	binary.BigEndian.PutUint16(b[4:], sign)
	for i, d := range digits {
		binary.BigEndian.PutUint16(b[8+2*i:], uint16(d))
	}
	return b
}

func TestCompareNumeric(t *testing.T) {
	// In increasing order.
	vals := [][]byte{
		numericBinary(numericNInf, 0),
		numericBinary(numericNeg, 1, 1),       // -10000
		numericBinary(numericNeg, 0, 5, 5000), // -5.5
		numericBinary(numericNeg, -1, 1),      // -0.0001
		numericBinary(numericPos, 0),          // 0
		numericBinary(numericPos, -2, 1),      // 0.00000001
		numericBinary(numericPos, 0, 1),       // 1
		numericBinary(numericPos, 0, 1, 1),    // 1.0001
		numericBinary(numericPos, 0, 2),       // 2
		numericBinary(numericPos, 1, 1, 0, 1), // 10000.0001
		numericBinary(numericPInf, 0),
		numericBinary(numericNaN, 0),
	}
	for i := range vals {
		for j := range vals {
			if got, want := compareNumeric(vals[i], vals[j]), cmp3(int32(i), int32(j)); got != want {
				t.Errorf("compare(#%d, #%d) = %d, want %d", i, j, got, want)
			}
		}
	}
	// Trailing zero digits do not matter: 1 = 1.0000.
	if compareNumeric(numericBinary(numericPos, 0, 1), numericBinary(numericPos, 0, 1, 0)) != 0 {
		t.Error("1 != 1.0000")
	}
}

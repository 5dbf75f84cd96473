package replication

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestTokenRoundTrip(t *testing.T) {
	tokens := []Token{
		{Revision: 1, Positions: map[string]LSN{"s0": 1}},
		{Revision: 0, Positions: map[string]LSN{"s0": 0x16B374D848}},
		{Revision: -5, Positions: map[string]LSN{"a": ^LSN(0)}},
		{Revision: 1 << 40, Positions: map[string]LSN{"s2": 0x3000000, "s0": 0x16B374D848, "s1": 0x1}},
		{Revision: 7, Positions: map[string]LSN{strings.Repeat("x", 63): 42, "A$1_b": 9}},
	}
	for _, tok := range tokens {
		s := tok.Encode()
		if !strings.HasPrefix(s, "v1.") {
			t.Errorf("%v encodes to %q, without the version prefix", tok, s)
		}
		for _, c := range s {
			if !(c == '.' || c == '-' || c == '_' || c < 128 && isBase64URL(byte(c))) {
				t.Errorf("%q holds %q", s, c)
			}
		}
		got, err := DecodeToken(s)
		if err != nil {
			t.Errorf("DecodeToken(%q): %v", s, err)
			continue
		}
		if got.Revision != tok.Revision || len(got.Positions) != len(tok.Positions) {
			t.Errorf("DecodeToken(%q) = %+v, want %+v", s, got, tok)
		}
		for name, lsn := range tok.Positions {
			if got.Position(name) != lsn {
				t.Errorf("DecodeToken(%q): %s at %s, want %s", s, name, got.Position(name), lsn)
			}
		}
	}
}

func TestTokenIsShort(t *testing.T) {
	tok := Token{Revision: 123456, Positions: map[string]LSN{"s0": 0x16B374D848, "s1": 0x2A00112233, "s2": 0xFF00000000}}
	if s := tok.Encode(); len(s) > 64 {
		t.Errorf("a three-cluster token takes %d characters: %s", len(s), s)
	}
	huge := Token{Revision: -1 << 63, Positions: map[string]LSN{"s0": ^LSN(0), "s1": ^LSN(0), "s2": ^LSN(0)}}
	if s := huge.Encode(); len(s) > 72 {
		t.Errorf("the largest three-cluster token takes %d characters: %s", len(s), s)
	}
}

func TestTokenZeroPositions(t *testing.T) {
	for _, tok := range []Token{{}, {Revision: 5}, {Revision: 5, Positions: map[string]LSN{"s0": 0}}} {
		if s := tok.Encode(); s != "" {
			t.Errorf("%+v encodes to %q, want \"\"", tok, s)
		}
		if !tok.IsZero() {
			t.Errorf("%+v is not zero", tok)
		}
	}
	got, err := DecodeToken("")
	if err != nil || !got.IsZero() || got.Revision != 0 {
		t.Errorf(`DecodeToken("") = %+v, %v`, got, err)
	}
	// Zero positions are left out, so equal requirements encode alike.
	a := Token{Revision: 3, Positions: map[string]LSN{"s0": 10, "s1": 0}}
	b := Token{Revision: 3, Positions: map[string]LSN{"s0": 10}}
	if a.Encode() != b.Encode() {
		t.Errorf("%q != %q", a.Encode(), b.Encode())
	}
}

func TestTokenMergeAndAdvance(t *testing.T) {
	a := Token{Revision: 4, Positions: map[string]LSN{"s0": 100, "s1": 50}}
	b := Token{Revision: 9, Positions: map[string]LSN{"s1": 70, "s2": 5}}
	m := a.Merge(b)
	want := map[string]LSN{"s0": 100, "s1": 70, "s2": 5}
	if m.Revision != 9 || len(m.Positions) != 3 {
		t.Fatalf("Merge = %+v", m)
	}
	for name, lsn := range want {
		if m.Position(name) != lsn {
			t.Errorf("Merge: %s at %s, want %s", name, m.Position(name), lsn)
		}
	}
	if a.Position("s1") != 50 || b.Position("s0") != 0 {
		t.Errorf("Merge modified its operands: %+v %+v", a, b)
	}
	if m2 := b.Merge(a); m2.Encode() != m.Encode() {
		t.Errorf("Merge is not symmetric: %q vs %q", m2.Encode(), m.Encode())
	}
	if z := (Token{}).Merge(Token{}); z.Positions != nil || z.Revision != 0 {
		t.Errorf("zero Merge zero = %+v", z)
	}

	adv := a.Advance("s0", 90).Advance("s1", 60).Advance("s3", 1)
	if adv.Position("s0") != 100 || adv.Position("s1") != 60 || adv.Position("s3") != 1 || adv.Revision != 4 {
		t.Errorf("Advance = %+v", adv)
	}
	if a.Position("s1") != 50 || a.Position("s3") != 0 {
		t.Errorf("Advance modified its receiver: %+v", a)
	}
	if z := (Token{}).Advance("s0", 7); z.Position("s0") != 7 {
		t.Errorf("Advance on the zero token = %+v", z)
	}
}

// payloadToken builds a token text around a hand-made payload.
func payloadToken(p ...byte) string {
	return "v1." + base64.RawURLEncoding.EncodeToString(p)
}

// flipLastBit sets the lowest bit of a token's last character, which is a
// padding bit when the payload's length is not a multiple of 3.
func flipLastBit(s string) string {
	i := strings.IndexByte(base64URLAlphabet, s[len(s)-1])
	return s[:len(s)-1] + string(base64URLAlphabet[i|1])
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestDecodeTokenRefusesMalformed(t *testing.T) {
	valid := Token{Revision: 1, Positions: map[string]LSN{"s0": 0x100}}.Encode()
	cases := []struct{ name, in string }{
		{"no version", "AgJzMIAC"},
		{"unknown version", "v2.AgJzMIAC"},
		{"upper-case version", "V1.AgJzMIAC"},
		{"version only", "v1."},
		{"space inside", "v1.AgJz MIAC"},
		{"trailing space", valid + " "},
		{"leading space", " " + valid},
		{"line break", "v1.AgJz\nMIAC"},
		{"carriage return", "v1.AgJz\rMIAC"},
		{"padding", valid + "="},
		{"standard base64 alphabet", "v1.AgJz+IAC"},
		{"a comma", "v1.AgJz,IAC"},
		{"a quote", "v1.AgJz'IAC"},
		{"impossible length", valid + "A"},
		{"non-zero padding bits", flipLastBit(payloadToken(0x02, 2, 's', '0', 1))},
		{"revision only", payloadToken(0x02)},
		{"truncated revision", payloadToken(0x80)},
		{"non-minimal revision", payloadToken(0x82, 0x00, 2, 's', '0', 1)},
		{"name length past the end", payloadToken(0x02, 9, 's', '0', 1)},
		{"empty name", payloadToken(0x02, 0, 1)},
		{"non-minimal name length", payloadToken(0x02, 0x82, 0x00, 's', '0', 1)},
		{"name starting with a digit", payloadToken(0x02, 2, '0', 's', 1)},
		{"name starting with $", payloadToken(0x02, 2, '$', 's', 1)},
		{"name with a dash", payloadToken(0x02, 3, 's', '-', '0', 1)},
		{"name with a NUL", payloadToken(0x02, 3, 's', 0, '0', 1)},
		{"name of 64 bytes", payloadToken(append(append([]byte{0x02, 64}, strings.Repeat("s", 64)...), 1)...)},
		{"missing position", payloadToken(0x02, 2, 's', '0')},
		{"truncated position", payloadToken(0x02, 2, 's', '0', 0xff)},
		{"zero position", payloadToken(0x02, 2, 's', '0', 0)},
		{"non-minimal position", payloadToken(0x02, 2, 's', '0', 0x81, 0x00)},
		{"position over 64 bits", payloadToken(0x02, 2, 's', '0', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02)},
		{"names out of order", payloadToken(0x02, 2, 's', '1', 1, 2, 's', '0', 1)},
		{"name twice", payloadToken(0x02, 2, 's', '0', 1, 2, 's', '0', 2)},
		{"trailing byte", payloadToken(0x02, 2, 's', '0', 1, 1)},
	}
	for _, c := range cases {
		got, err := DecodeToken(c.in)
		if err == nil {
			t.Errorf("%s: DecodeToken(%q) = %+v, want an error", c.name, c.in, got)
			continue
		}
		if !errors.Is(err, ErrBadToken) {
			t.Errorf("%s: error %v does not wrap ErrBadToken", c.name, err)
		}
	}
	// The hand-made payload helper agrees with Encode.
	if got := payloadToken(0x02, 2, 's', '0', 0x80, 0x02); got != valid {
		t.Fatalf("payloadToken = %q, Encode = %q", got, valid)
	}
}

func FuzzDecodeToken(f *testing.F) {
	f.Add("")
	f.Add(Token{Revision: 1, Positions: map[string]LSN{"s0": 0x16B374D848, "s1": 7}}.Encode())
	f.Add("v1.AgJzMIAC")
	f.Add("v2.AgJzMIAC")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := DecodeToken(s)
		if err != nil {
			if !errors.Is(err, ErrBadToken) {
				t.Fatalf("DecodeToken(%q): error %v does not wrap ErrBadToken", s, err)
			}
			return
		}
		// Every accepted text is the one canonical encoding of its token.
		if again := tok.Encode(); again != s {
			t.Fatalf("DecodeToken(%q) = %+v, which encodes to %q", s, tok, again)
		}
	})
}

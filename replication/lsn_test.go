package replication

import (
	"errors"
	"testing"
)

func TestParseLSN(t *testing.T) {
	good := []struct {
		in   string
		want LSN
		out  string
	}{
		{"0/0", 0, "0/0"},
		{"16/B374D848", 0x16B374D848, "16/B374D848"},
		{"16/b374d848", 0x16B374D848, "16/B374D848"},
		{"00000016/0000000A", 0x160000000A, "16/A"},
		{"FFFFFFFF/FFFFFFFF", ^LSN(0), "FFFFFFFF/FFFFFFFF"},
		{"1/0", 1 << 32, "1/0"},
	}
	for _, c := range good {
		got, err := ParseLSN(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseLSN(%q) = %v, %v; want %#x", c.in, got, err, uint64(c.want))
			continue
		}
		if got.String() != c.out {
			t.Errorf("LSN(%#x).String() = %q, want %q", uint64(got), got.String(), c.out)
		}
	}
	// pg_lsn's input function refuses all of these.
	bad := []string{"", "/", "0/", "/0", "0", "0/0/0", " 0/0", "0/0 ", "0 /0", "+1/0", "-1/0",
		"123456789/0", "0/123456789", "g/0", "0/x1", "0x1/0", "0/0\n", "１/0"}
	for _, in := range bad {
		if got, err := ParseLSN(in); err == nil {
			t.Errorf("ParseLSN(%q) = %v, want an error", in, got)
		} else if !errors.Is(err, errBadLSN) {
			t.Errorf("ParseLSN(%q) error %v does not wrap errBadLSN", in, err)
		}
	}
}

func TestLevelNames(t *testing.T) {
	for _, l := range []Level{Strong, ReadYourWrites, Bounded, Eventual} {
		got, err := ParseLevel(l.String())
		if err != nil || got != l {
			t.Errorf("ParseLevel(%q) = %v, %v", l.String(), got, err)
		}
	}
	for in, want := range map[string]Level{"STRONG": Strong, "Ryw": ReadYourWrites, "bounded": Bounded, "EventuaL": Eventual} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "read_your_writes", " strong", "eventual ", "weak"} {
		if _, err := ParseLevel(in); err == nil {
			t.Errorf("ParseLevel(%q) succeeded", in)
		}
	}
	if Level(0) != ReadYourWrites {
		t.Errorf("the zero Level is %v, want ryw (the default)", Level(0))
	}
	if s := Level(9).String(); s != "Level(9)" {
		t.Errorf("Level(9).String() = %q", s)
	}
}

func TestPolicyNames(t *testing.T) {
	for _, p := range []Policy{RoundRobin, LeastConnections, Weighted} {
		got, err := ParsePolicy(p.String())
		if err != nil || got != p {
			t.Errorf("ParsePolicy(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := ParsePolicy("random"); err == nil {
		t.Error("ParsePolicy(random) succeeded")
	}
}

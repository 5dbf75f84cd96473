package shardmap

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"testing"
)

// FuzzParse: Parse never panics; it returns either a *ValidationError
// with at least one issue, or a map that keeps its invariants and
// round-trips: Encode, Parse again, and the result encodes identically
// and routes keys identically.
func FuzzParse(f *testing.F) {
	f.Add([]byte(lookupDoc))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Issues) == 0 {
				t.Fatalf("Parse error %T without issues: %v", err, err)
			}
			return
		}
		checkInvariants(t, m)
		enc, err := m.Encode()
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		m2, err := Parse(enc)
		if err != nil {
			t.Fatalf("the encoding of a valid map is invalid: %v\n%s", err, enc)
		}
		enc2, err := m2.Encode()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable (%v):\n%s\n---\n%s", err, enc, enc2)
		}
		for name, d := range m.Distributions {
			d2 := m2.Distributions[name]
			for _, k := range probeKeys(d) {
				c1, err1 := d.ClusterFor(k)
				c2, err2 := d2.ClusterFor(k)
				if c1 != c2 || (err1 == nil) != (err2 == nil) {
					t.Fatalf("%s: key %v routes to %q/%v, after round trip %q/%v", name, k, c1, err1, c2, err2)
				}
			}
		}
	})
}

// checkInvariants asserts what every valid map guarantees its readers.
func checkInvariants(t *testing.T, m *Map) {
	t.Helper()
	if m.Version != 1 || len(m.Clusters) == 0 || len(m.ClusterNames) != len(m.Clusters) {
		t.Fatalf("bad header: version %d, %d clusters, names %v", m.Version, len(m.Clusters), m.ClusterNames)
	}
	if _, ok := m.Clusters[m.DefaultClusterName()]; !ok {
		t.Fatalf("default cluster %q unknown", m.DefaultClusterName())
	}
	for name, d := range m.Distributions {
		for _, c := range d.Clusters() {
			if _, ok := m.Clusters[c]; !ok {
				t.Fatalf("%s: unknown cluster %q", name, c)
			}
		}
		switch d.Type {
		case DistHash:
			rs := d.HashRanges
			if len(rs) == 0 || rs[0].Min != math.MinInt64 || rs[len(rs)-1].Max != math.MaxInt64 {
				t.Fatalf("%s: hash ranges do not cover the space: %v", name, rs)
			}
			for i := 1; i < len(rs); i++ {
				if rs[i].Min != rs[i-1].Max+1 {
					t.Fatalf("%s: hash ranges not contiguous: %v", name, rs)
				}
			}
		case DistRange:
			for i := 1; i < len(d.Ranges); i++ {
				prev, cur := d.Ranges[i-1], d.Ranges[i]
				if prev.To == nil || cur.From == nil || cur.From.Compare(*prev.To) < 0 {
					t.Fatalf("%s: ranges overlap or are unsorted: %v", name, d.Ranges)
				}
			}
		case DistList:
			if len(d.Lists) == 0 {
				t.Fatalf("%s: no lists", name)
			}
		default:
			t.Fatalf("%s: type %q", name, d.Type)
		}
	}
	for name, tb := range m.Tables {
		if got, ok := m.LookupTable(tb.Schema, tb.Name); !ok || got != tb {
			t.Fatalf("table %s not found by LookupTable(%q, %q)", name, tb.Schema, tb.Name)
		}
		if tb.Reference == (tb.Distribution != nil) || (tb.Distribution != nil && tb.Key == "") {
			t.Fatalf("table %s: reference %v, distribution %v, key %q", name, tb.Reference, tb.Distribution, tb.Key)
		}
	}
}

// probeKeys are keys of d's kind around the values its document names.
func probeKeys(d *Distribution) []Key {
	var keys []Key
	switch d.KeyType.Kind() {
	case KindInt:
		keys = []Key{IntKey(math.MinInt64), IntKey(-1), IntKey(0), IntKey(1), IntKey(math.MaxInt64)}
	case KindText:
		keys = []Key{TextKey(""), TextKey("a"), TextKey("zz")}
	case KindUUID:
		keys = []Key{UUIDKey([16]byte{}), UUIDKey([16]byte{0: 0x80})}
	}
	for _, r := range d.Ranges {
		for _, b := range []*Key{r.From, r.To} {
			if b != nil {
				keys = append(keys, *b)
				if b.Kind() == KindInt && b.Int() > math.MinInt64 {
					keys = append(keys, IntKey(b.Int()-1))
				}
			}
		}
	}
	for _, l := range d.Lists {
		keys = append(keys, l.Values...)
	}
	return keys
}

// TestAliasExpansionIsBounded: aliases that multiply a small text into
// millions of values are refused instead of walked, and the issue list
// stays short.
func TestAliasExpansionIsBounded(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("version: 1\nclusters: {s0: {primary: \"postgres://h/db\"}}\nx: &v [")
	for i := range 1000 {
		b.WriteString("v" + strconv.Itoa(i) + ",")
	}
	b.WriteString("]\ny: &e {cluster: s0, values: *v}\n")
	b.WriteString("distributions:\n  d:\n    type: list\n    key_type: text\n    lists: [")
	for range 2000 {
		b.WriteString("*e,")
	}
	b.WriteString("]\n")
	_, err := Parse(b.Bytes())
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Parse = %v, want a validation error", err)
	}
	// The cap, the size issue, and the "more problems" summary.
	if len(ve.Issues) > maxIssues+2 {
		t.Errorf("%d issues kept, want at most %d", len(ve.Issues), maxIssues+2)
	}
	found := false
	for _, is := range ve.Issues {
		found = found || is.Message == "the document is too large after expanding aliases"
	}
	if !found {
		t.Errorf("no size issue among: %v", ve)
	}
}

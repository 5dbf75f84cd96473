package txn

import (
	"strings"
	"testing"
)

func TestParseGID(t *testing.T) {
	for _, tc := range []struct {
		gid  string
		want GID
		ok   bool
	}{
		{"sqlr_r1.lx2a3b4c0f3e.17.s0", GID{"r1", "sqlr_r1.lx2a3b4c0f3e.17", "s0"}, true},
		{"sqlr_router_2-b.e.1.shard_$1", GID{"router_2-b", "sqlr_router_2-b.e.1", "shard_$1"}, true},
		{"sqlr_r1.e.1.a.b", GID{"r1", "sqlr_r1.e.1", "a.b"}, true},
		{"sqlr_r1_1_s0", GID{}, false}, // the format before epochs
		{"sqlr_r1.e.1.", GID{}, false},
		{"sqlr_r1.e.x.s0", GID{}, false},
		{"sqlr_r1.E.1.s0", GID{}, false},
		{"sqlr_.e.1.s0", GID{}, false},
		{"sqlr_r 1.e.1.s0", GID{}, false},
		{"other_r1.e.1.s0", GID{}, false},
	} {
		got, ok := ParseGID(tc.gid)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseGID(%q) = %+v, %v; want %+v, %v", tc.gid, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLongestGIDFitsPostgres(t *testing.T) {
	router := strings.Repeat("r", maxRouterIDLen)
	cluster := strings.Repeat("c", 63)
	txid := txnID(router, newEpoch()+"zz", ^uint64(0))
	gid, err := participantGID(txid, cluster)
	if err != nil {
		t.Fatal(err)
	}
	if len(gid) > maxGIDLen {
		t.Fatalf("GID of %d bytes", len(gid))
	}
	if g, ok := ParseGID(gid); !ok || g.Router != router || g.Cluster != cluster || g.Txn != txid {
		t.Errorf("ParseGID(%q) = %+v, %v", gid, g, ok)
	}
	if _, err := participantGID(txid, strings.Repeat("c", 200)); err == nil {
		t.Error("a GID over 199 bytes was accepted")
	}
	if ValidRouterID(router+"r") == nil {
		t.Error("a 64-byte router id was accepted")
	}
}

func FuzzParseGID(f *testing.F) {
	f.Add("sqlr_r1.e.1.s0")
	f.Add("sqlr_r1_1_s0")
	f.Fuzz(func(t *testing.T, s string) {
		g, ok := ParseGID(s)
		if !ok {
			return
		}
		if g.String() != s || ValidRouterID(g.Router) != nil {
			t.Errorf("ParseGID(%q) = %+v", s, g)
		}
	})
}

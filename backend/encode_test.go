package backend

import (
	"bytes"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// The hand-written encoders produce exactly pgproto3's bytes.
func TestEncodersMatchPgproto3(t *testing.T) {
	c := &Conn{}
	cases := []struct {
		send func()
		msg  pgproto3.FrontendMessage
	}{
		{func() { c.SendBind("p", "s1", []int16{1}, [][]byte{[]byte("42"), nil, {}}, []int16{0, 1}) },
			&pgproto3.Bind{DestinationPortal: "p", PreparedStatement: "s1", ParameterFormatCodes: []int16{1},
				Parameters: [][]byte{[]byte("42"), nil, {}}, ResultFormatCodes: []int16{0, 1}}},
		{func() { c.SendBind("", "", nil, nil, nil) }, &pgproto3.Bind{}},
		{func() { c.SendExecute("portal", 7) }, &pgproto3.Execute{Portal: "portal", MaxRows: 7}},
		{func() { c.SendSync() }, &pgproto3.Sync{}},
	}
	for i, tc := range cases {
		c.wbuf = c.wbuf[:0]
		tc.send()
		want, err := tc.msg.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.wbuf, want) {
			t.Errorf("case %d: %x, want %x", i, c.wbuf, want)
		}
	}
}

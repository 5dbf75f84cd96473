package copytest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// COPY runs through the extended protocol too (Parse, Bind, Execute, then
// the copy sub-protocol, then Sync), as some drivers send it.
func TestCopyExtendedProtocol(t *testing.T) {
	ready(t)
	pc, err := pgconn.Connect(ctxT(t), stack.RouterDSN())
	if err != nil {
		t.Fatal(err)
	}
	hc, err := pc.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Conn.Close()
	hc.Conn.SetDeadline(time.Now().Add(30 * time.Second)) // never hang the package
	fe := hc.Frontend
	base := int64(7_000_000)
	run := func(sql string, data []string) []string {
		t.Helper()
		fe.Send(&pgproto3.Parse{Query: sql})
		fe.Send(&pgproto3.Bind{})
		fe.Send(&pgproto3.Describe{ObjectType: 'P'})
		fe.Send(&pgproto3.Execute{})
		if data == nil {
			fe.Send(&pgproto3.Sync{})
		}
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			msg, err := fe.Receive()
			if err != nil {
				t.Fatal(err)
			}
			switch m := msg.(type) {
			case *pgproto3.CopyInResponse:
				got = append(got, "CopyIn")
				for _, d := range data {
					fe.Send(&pgproto3.CopyData{Data: []byte(d)})
				}
				fe.Send(&pgproto3.CopyDone{})
				fe.Send(&pgproto3.Sync{})
				if err := fe.Flush(); err != nil {
					t.Fatal(err)
				}
			case *pgproto3.CopyOutResponse:
				got = append(got, "CopyOut")
			case *pgproto3.CopyData:
				got = append(got, "data "+string(m.Data))
			case *pgproto3.CommandComplete:
				got = append(got, string(m.CommandTag))
			case *pgproto3.ErrorResponse:
				got = append(got, "error "+m.Message)
			case *pgproto3.ReadyForQuery:
				return append(got, "ready "+string(m.TxStatus))
			case *pgproto3.ParseComplete, *pgproto3.BindComplete, *pgproto3.NoData, *pgproto3.CopyDone:
			default:
				got = append(got, fmt.Sprintf("%T", m))
			}
		}
	}
	got := run("COPY items (id, name) FROM STDIN", []string{fmt.Sprintf("%d\tx1\n%d\tx2\n", base, base+1), fmt.Sprintf("%d\tx3\n", base+2)})
	if want := "CopyIn|COPY 3|ready I"; strings.Join(got, "|") != want {
		t.Errorf("COPY FROM STDIN: %q, want %s", got, want)
	}
	assertPlaced(t, "items", "id", "by_id", fmt.Sprintf("id BETWEEN %d AND %d", base, base+2), ids(base, 3))
	got = run(fmt.Sprintf("COPY (SELECT id, name FROM items WHERE id BETWEEN %d AND %d ORDER BY id) TO STDOUT", base, base+2), nil)
	want := fmt.Sprintf("CopyOut|data %d\tx1\n|data %d\tx2\n|data %d\tx3\n|COPY 3|ready I", base, base+1, base+2)
	if strings.Join(got, "|") != want {
		t.Errorf("COPY TO STDOUT: %q, want %q", got, want)
	}
}

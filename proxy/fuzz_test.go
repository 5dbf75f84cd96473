package proxy

import (
	"net"
	"testing"
	"time"

	"github.com/sqlrouter/sqlrouter/executor"
	"github.com/sqlrouter/sqlrouter/planner"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// FuzzStartup feeds arbitrary bytes to a fresh connection: the handshake
// code (startup packets, SSL and cancel requests, options, SCRAM) must
// answer or hang up, never panic or hang.
func FuzzStartup(f *testing.F) {
	f.Add([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f})                                                     // SSLRequest
	f.Add([]byte{0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1, 0, 0, 0, 2})                            // CancelRequest
	f.Add(append([]byte{0, 0, 0, 41, 0, 3, 0, 0}, "user\x00app\x00options\x00-c a=b --c-d=e\x00\x00"...)) // StartupMessage
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	srv, err := NewServer(Config{Auth: AuthConfig{Method: AuthSCRAMSHA256, Users: []User{{Name: "app", Password: "pw"}}}, StartupTimeout: time.Second},
		Deps{Planner: planner.New(planner.Options{}), Executor: &executor.Config{}, Snapshot: func() *shardmap.Snapshot { return nil }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.serveConn(server)
		}()
		go func() {
			// Drain what the server says so it never blocks writing.
			buf := make([]byte, 4096)
			for {
				if _, err := client.Read(buf); err != nil {
					return
				}
			}
		}()
		client.SetWriteDeadline(time.Now().Add(time.Second))
		client.Write(data)
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the server did not finish with the connection")
		}
	})
}

func TestParseOptions(t *testing.T) {
	got := parseOptions(`-c work_mem=4MB --search-path=a,b -csearch_path=x -c a\ b=c\\d`)
	want := map[string]string{"work_mem": "4MB", "search_path": "x", "a b": `c\d`}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %q)", k, got[k], v, got)
		}
	}
}

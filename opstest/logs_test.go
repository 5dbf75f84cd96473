package opstest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines decodes the JSON lines written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// Every line a client session logs carries its session id, the client's
// address, user and database: the login, a statement cut short by
// limits.max_statement_time, the end of the session.
func TestSessionLogLinesCarryTheSession(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := startRouter(t, logger, func(c *routerConfig) { c.Limits.MaxStatementTime = 200 * time.Millisecond })
	c := connect(t, r, "application_name", "logtest")
	if _, err := c.Exec(ctxT(t), "SELECT pg_sleep(30)"); sqlstate(err) != "57014" {
		t.Fatalf("sleep: %v", err)
	}
	c.Close(ctxT(t))
	sessionLine := func(m map[string]any) bool {
		msg, _ := m["msg"].(string)
		return strings.HasPrefix(msg, "client ") || strings.HasPrefix(msg, "statement cancelled")
	}
	waitFor(t, "the session's last line", func() bool {
		for _, m := range buf.lines(t) {
			if m["msg"] == "client disconnected" {
				return true
			}
		}
		return false
	})
	var ids []any
	for _, m := range buf.lines(t) {
		if !sessionLine(m) {
			continue
		}
		ids = append(ids, m["session"])
		if m["user"] != "app" || m["database"] != "app" || !strings.HasPrefix(m["client"].(string), "127.0.0.1:") {
			t.Errorf("session line without its client: %v", m)
		}
	}
	if len(ids) != 3 || ids[0] == nil || ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("session ids of the connect, cancel and disconnect lines: %v", ids)
	}
}

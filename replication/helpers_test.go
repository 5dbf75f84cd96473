package replication

import (
	"context"
	"log/slog"
	"sync"
)

// discardLogger drops every record.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// logCounter is a slog handler that counts records by message and url
// attribute.
type logCounter struct {
	mu     sync.Mutex
	counts map[[2]string]int
}

func newLogCounter() *logCounter { return &logCounter{counts: map[[2]string]int{}} }

func (c *logCounter) Enabled(context.Context, slog.Level) bool { return true }

func (c *logCounter) Handle(_ context.Context, r slog.Record) error {
	url := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "url" {
			url = a.Value.String()
		}
		return true
	})
	c.mu.Lock()
	c.counts[[2]string{r.Message, url}]++
	c.mu.Unlock()
	return nil
}

func (c *logCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *logCounter) WithGroup(string) slog.Handler      { return c }

// count returns how many records had this message and url.
func (c *logCounter) count(msg, url string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[[2]string{msg, url}]
}

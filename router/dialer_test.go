package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/breaker"
)

// The backoff doubles from the base up to 16 times it, and takes a random
// half of it.
func TestBackoffGrowsWithJitter(t *testing.T) {
	base := 100 * time.Millisecond
	for attempt, full := range []time.Duration{base, 2 * base, 4 * base, 8 * base, 16 * base, 16 * base} {
		for range 50 {
			if d := backoff(base, attempt); d < full/2 || d > full {
				t.Fatalf("attempt %d: backoff %v outside [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
}

// Unreachable, starting and full servers are tried again; refused
// credentials are not, and do not count against the breaker.
func TestConnectAttemptsRetryAndInformTheBreaker(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	badPassword := &pgconn.PgError{Code: "28P01", Message: "password authentication failed"}
	starting := &pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}
	for _, c := range []struct {
		name     string
		errs     []error // the attempts' outcomes, nil = connected
		calls    int
		ok       bool
		failures int // breaker failures recorded
	}{
		{"refused then connected", []error{refused, nil}, 2, true, 0},
		{"refused every time", []error{refused, refused, refused}, 3, false, 1},
		{"starting up", []error{starting, starting, starting}, 3, false, 1},
		{"bad password", []error{badPassword, nil}, 1, false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			br := breaker.New(breaker.Options{Threshold: 2})
			d := &dialer{cfg: BackendConfig{ConnectAttempts: 3, ConnectBackoff: time.Millisecond}, breakers: br, logger: discard()}
			calls := 0
			_, err := d.attempts(context.Background(), "s0", "url", func(context.Context) (*backend.Conn, error) {
				e := c.errs[calls]
				calls++
				if e == nil {
					return &backend.Conn{}, nil
				}
				return nil, fmt.Errorf("connect: %w", e)
			})
			if calls != c.calls || (err == nil) != c.ok {
				t.Fatalf("%d attempts, err %v; want %d attempts, success %v", calls, err, c.calls, c.ok)
			}
			st := br.Status()
			failures := 0
			if len(st) == 1 {
				failures = st[0].Failures
			}
			if failures != c.failures {
				t.Errorf("breaker failures %d, want %d", failures, c.failures)
			}
		})
	}
}

// Negative limits are refused, naming the key.
func TestValidateRefusesNegativeLimits(t *testing.T) {
	cfg := Config{Etcd: EtcdConfig{Endpoints: []string{"x:2379"}}}
	cfg.Limits.MaxStatementTime = -time.Second
	if err := cfg.Validate(); err == nil || !strings.HasPrefix(err.Error(), "limits.max_statement_time:") {
		t.Errorf("Validate = %v", err)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

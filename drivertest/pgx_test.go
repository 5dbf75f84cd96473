package drivertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The scenario with pgx, in this process: extended protocol with
// statements prepared by name, channel binding required.
func TestPgx(t *testing.T) {
	s := newScenario(t, "pgx")
	lines := make(chan string)
	interrupt := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		defer close(lines)
		done <- pgxScenario(s, func(l string) { lines <- l }, interrupt)
	}()
	check(t, s, driverRun{
		lines:     lines,
		interrupt: func() error { close(interrupt); return nil },
		wait:      func() error { return <-done },
		output:    func() string { return "" },
	})
}

// pgxDSN is the scenario's connection URL with password.
func pgxDSN(s scenario, password string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword("app", password), Host: net.JoinHostPort(s.host, s.port), Path: "/app"}
	u.RawQuery = url.Values{
		"sslmode": {"verify-full"}, "sslrootcert": {s.rootCert}, "channel_binding": {"require"},
		"application_name": {s.appName()},
	}.Encode()
	return u.String()
}

func sqlstate(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return fmt.Sprintf("no SQLSTATE: %v", err)
}

func pgxScenario(s scenario, emit func(string), interrupt <-chan struct{}) error {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pgxDSN(s, s.password))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	emit("connected")
	_, err = pgx.Connect(ctx, pgxDSN(s, s.password+"-wrong"))
	emit("bad password: " + sqlstate(err))

	if _, err := c.Prepare(ctx, "ins", "INSERT INTO customers (id, name) VALUES ($1, $2)"); err != nil {
		return err
	}
	if _, err := c.Prepare(ctx, "sel", "SELECT name FROM customers WHERE id = $1"); err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "ins", s.preparedID, s.name()); err != nil {
		return err
	}
	var name string
	if err := c.QueryRow(ctx, "sel", s.preparedID).Scan(&name); err != nil {
		return err
	}
	emit("prepared: " + name)

	for _, end := range []string{"rollback", "commit"} {
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		for _, id := range s.txnIDs {
			if _, err := tx.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'txn')", id); err != nil {
				return err
			}
		}
		if end == "rollback" {
			err = tx.Rollback(ctx)
		} else {
			err = tx.Commit(ctx)
		}
		if err != nil {
			return err
		}
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM customers WHERE id = ANY($1)", s.txnIDs[:]).Scan(&n); err != nil {
			return err
		}
		emit(fmt.Sprintf("%s: %d", end, n))
	}

	one := func() (int, error) {
		var n int
		err := c.QueryRow(ctx, "SELECT 1").Scan(&n)
		return n, err
	}
	_, err = c.Exec(ctx, "SELECT 1/0")
	emit("error: " + sqlstate(err))
	n, err := one()
	if err != nil {
		return err
	}
	emit(fmt.Sprintf("recovered: %d", n))
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		return err
	}
	c.Exec(ctx, "SELECT 1/0")
	_, err = one()
	emit("aborted: " + sqlstate(err))
	if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
		return err
	}
	if n, err = one(); err != nil {
		return err
	}
	emit(fmt.Sprintf("after rollback: %d", n))

	// pgx closes a connection whose context is canceled mid-query: cancel
	// with a CancelRequest instead, as an application's watchdog would.
	emit("sleeping")
	go func() {
		<-interrupt
		c.PgConn().CancelRequest(context.Background())
	}()
	_, err = c.Exec(ctx, "SELECT pg_sleep(60)")
	emit("cancel: " + sqlstate(err))
	if n, err = one(); err != nil {
		return err
	}
	emit(fmt.Sprintf("after cancel: %d", n))
	return nil
}

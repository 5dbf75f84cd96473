package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// idleRow is the memory cost of idle client connections to one proxy.
type idleRow struct {
	Target    string  `json:"target"`
	Wanted    int     `json:"wanted"`
	Opened    int     `json:"opened"`
	Error     string  `json:"error,omitempty"`
	RSSBefore int64   `json:"rss_before_kib"`
	RSSAfter  int64   `json:"rss_after_kib"`
	RSSClosed int64   `json:"rss_after_close_kib"`
	PerConn   float64 `json:"kib_per_conn"`
	Seconds   float64 `json:"open_seconds"`
	// ServerSessions is the number of PostgreSQL sessions the proxy held
	// open on the servers while the idle clients were connected.
	ServerSessions int `json:"server_sessions"`
}

// idleConnections opens n client connections to e, each through startup
// and authentication to its first ReadyForQuery, keeps them idle, and
// reads the resident memory of process pid before, with them open, and
// after closing them, and how many sessions the proxy holds on servers
// meanwhile.
func idleConnections(ctx context.Context, label string, e endpoint, pid, n int, servers []endpoint) idleRow {
	row := idleRow{Target: label, Wanted: n}
	settle := func() int64 {
		time.Sleep(2 * time.Second)
		rss, _, _ := memStatus(pid)
		return rss
	}
	row.RSSBefore = settle()
	conns := make([]net.Conn, n)
	errs := make([]error, n)
	began := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				conns[i], errs[i] = openIdle(ctx, e)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	row.Seconds = time.Since(began).Seconds()
	var firstErr error
	for i := range n {
		if errs[i] == nil {
			row.Opened++
		} else if firstErr == nil {
			firstErr = errs[i]
		}
	}
	if firstErr != nil {
		row.Error = fmt.Sprintf("%d of %d failed, first: %v", n-row.Opened, n, firstErr)
	}
	row.RSSAfter = settle()
	row.ServerSessions = countSessions(ctx, servers)
	if row.Opened > 0 {
		row.PerConn = float64(row.RSSAfter-row.RSSBefore) / float64(row.Opened)
	}
	for _, c := range conns {
		if c != nil {
			c.Write([]byte{'X', 0, 0, 0, 4})
			c.Close()
		}
	}
	row.RSSClosed = settle()
	return row
}

// openIdle connects and logs in with trust authentication, reading up to
// the first ReadyForQuery, and returns the open connection.
func openIdle(ctx context.Context, e endpoint) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(e.Host, strconv.Itoa(e.Port)))
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	// StartupMessage: length, protocol 3.0, user, database.
	msg := []byte{0, 0, 0, 0, 0, 3, 0, 0}
	for _, kv := range [][2]string{{"user", e.User}, {"database", e.Database}} {
		msg = append(append(append(append(msg, kv[0]...), 0), kv[1]...), 0)
	}
	msg = append(msg, 0)
	binary.BigEndian.PutUint32(msg, uint32(len(msg)))
	if _, err := c.Write(msg); err != nil {
		c.Close()
		return nil, err
	}
	rd := bufio.NewReaderSize(c, 512)
	var head [5]byte
	for {
		if _, err := io.ReadFull(rd, head[:]); err != nil {
			c.Close()
			return nil, err
		}
		body := make([]byte, int(binary.BigEndian.Uint32(head[1:]))-4)
		if _, err := io.ReadFull(rd, body); err != nil {
			c.Close()
			return nil, err
		}
		switch head[0] {
		case 'E':
			c.Close()
			return nil, errors.New("server error: " + errorMessage(body))
		case 'R':
			if len(body) >= 4 && binary.BigEndian.Uint32(body) != 0 {
				c.Close()
				return nil, errors.New("the server asks for a password; idle connections use trust")
			}
		case 'Z':
			c.SetDeadline(time.Time{})
			return c, nil
		}
	}
}

// errorMessage extracts the SQLSTATE and message fields of an
// ErrorResponse body.
func errorMessage(body []byte) string {
	var code, text string
	for len(body) > 1 {
		t := body[0]
		end := 1
		for end < len(body) && body[end] != 0 {
			end++
		}
		v := string(body[1:end])
		switch t {
		case 'C':
			code = v
		case 'M':
			text = v
		}
		if end+1 > len(body) {
			break
		}
		body = body[end+1:]
	}
	return text + " (SQLSTATE " + code + ")"
}

// countSessions counts the client sessions in the database of each server
// (the harness's own query session excluded).
func countSessions(ctx context.Context, servers []endpoint) int {
	total := 0
	for _, e := range servers {
		conn, err := pgx.Connect(ctx, e.url())
		if err != nil {
			continue
		}
		var n int
		if conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`).Scan(&n) == nil {
			total += n
		}
		conn.Close(context.Background())
	}
	return total
}

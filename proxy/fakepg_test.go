package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/backend"
	"github.com/sqlrouter/sqlrouter/executor"
	"github.com/sqlrouter/sqlrouter/planner"
	"github.com/sqlrouter/sqlrouter/pool"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// fakePG is a stand-in PostgreSQL for front-end tests that exercise the
// protocol handling, not SQL: it accepts any login and answers every
// statement with one row ("1") or an empty result. It is not a mock of
// PostgreSQL for integration tests (those run the real server).
type fakePG struct {
	ln net.Listener
	wg sync.WaitGroup
}

func startFakePG(tb testing.TB) *fakePG {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	f := &fakePG{ln: ln}
	f.wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Go(func() { serveFake(nc) })
		}
	})
	tb.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

func (f *fakePG) url() string {
	return (&url.URL{Scheme: "postgres", User: url.User("fake"), Host: f.ln.Addr().String(), Path: "/app", RawQuery: "sslmode=disable"}).String()
}

func serveFake(nc net.Conn) {
	defer nc.Close()
	be := pgproto3.NewBackend(nc, nc)
	for {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		if _, ok := msg.(*pgproto3.StartupMessage); ok {
			break
		}
		nc.Write([]byte{'N'}) // no TLS, no GSS
	}
	be.Send(&pgproto3.AuthenticationOk{})
	for _, p := range [][2]string{{"server_version", "15.0"}, {"server_encoding", "UTF8"}, {"client_encoding", "UTF8"},
		{"DateStyle", "ISO, MDY"}, {"integer_datetimes", "on"}, {"standard_conforming_strings", "on"}, {"TimeZone", "UTC"}} {
		be.Send(&pgproto3.ParameterStatus{Name: p[0], Value: p[1]})
	}
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	be.Flush()
	failed := false
	row := func() {
		be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte("1")}})
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
	}
	desc := &pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("x"), DataTypeOID: 23, DataTypeSize: 4, TypeModifier: -1}}}
	for {
		msg, err := be.Receive()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.Query:
			if m.String == "" {
				be.Send(&pgproto3.EmptyQueryResponse{})
			} else {
				be.Send(desc)
				row()
			}
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			be.Flush()
		case *pgproto3.Parse:
			if !failed {
				be.Send(&pgproto3.ParseComplete{})
			}
		case *pgproto3.Bind:
			if !failed {
				be.Send(&pgproto3.BindComplete{})
			}
		case *pgproto3.Describe:
			if !failed {
				if m.ObjectType == 'S' {
					be.Send(&pgproto3.ParameterDescription{ParameterOIDs: []uint32{}})
				}
				be.Send(desc)
			}
		case *pgproto3.Execute:
			if !failed {
				row()
			}
		case *pgproto3.Close:
			if !failed {
				be.Send(&pgproto3.CloseComplete{})
			}
		case *pgproto3.Flush:
			be.Flush()
		case *pgproto3.Sync:
			failed = false
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			be.Flush()
		case *pgproto3.Terminate:
			return
		default:
			be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "08P01", Message: "unexpected message"})
			failed = true
			be.Flush()
		}
	}
}

// fakeMapYAML is a shard map over the fake server: two clusters.
const fakeMapYAML = `
version: 1
default_cluster: s0
clusters:
  s0: {primary: "%s"}
  s1: {primary: "%s"}
distributions:
  by_id: {type: hash, key_type: bigint, shards: [s0, s1]}
tables:
  items: {distribution: by_id, key: id}
`

// newFakeServer makes a front end over a fake PostgreSQL: trust auth, a
// two-cluster map, a real pool and executor.
func newFakeServer(tb testing.TB) *Server {
	tb.Helper()
	pg := startFakePG(tb)
	doc := fmt.Appendf(nil, fakeMapYAML, pg.url(), pg.url())
	m, err := shardmap.Parse(doc)
	if err != nil {
		tb.Fatal(err)
	}
	snap := &shardmap.Snapshot{Map: m, Revision: 1, Raw: doc}
	conns := pool.New(func(ctx context.Context, key pool.Key) (*backend.Conn, error) {
		return backend.Dial(ctx, backend.DialOptions{URL: key.URL})
	}, executor.ResetConn, pool.Options{})
	tb.Cleanup(conns.Close)
	srv, err := NewServer(Config{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}, Deps{Planner: planner.New(planner.Options{}),
		Executor: &executor.Config{Pool: conns, Logger: slog.New(slog.DiscardHandler)}, Snapshot: func() *shardmap.Snapshot { return snap }})
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}

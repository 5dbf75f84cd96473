package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// The wire differential test: the same exchange of protocol messages with
// the router and with a PostgreSQL server directly must give the same
// sequence of responses (message kinds, command tags, SQLSTATEs,
// transaction status, row values). It catches stray or missing messages
// that drivers trip over.

// step is part of an exchange: messages to send, then read until done
// says the step's answer is complete.
type step struct {
	send []pgproto3.FrontendMessage
	// until is the kind of message that ends the step ('Z' when empty).
	until byte
}

func q(sql string) step { return step{send: []pgproto3.FrontendMessage{&pgproto3.Query{String: sql}}} }

func ext(msgs ...pgproto3.FrontendMessage) step {
	return step{send: append(msgs, &pgproto3.Sync{})}
}

func parse(name, sql string, oids ...uint32) *pgproto3.Parse {
	return &pgproto3.Parse{Name: name, Query: sql, ParameterOIDs: oids}
}

func bind(portal, stmt string, params ...string) *pgproto3.Bind {
	b := &pgproto3.Bind{DestinationPortal: portal, PreparedStatement: stmt}
	for _, p := range params {
		b.Parameters = append(b.Parameters, []byte(p))
	}
	return b
}

func execute(portal string, max uint32) *pgproto3.Execute {
	return &pgproto3.Execute{Portal: portal, MaxRows: max}
}

func describe(kind byte, name string) *pgproto3.Describe {
	return &pgproto3.Describe{ObjectType: kind, Name: name}
}

var wireScripts = map[string][]step{
	"simple query":            {q("SELECT 1 AS a, 'x' AS b, NULL::int AS c")},
	"several statements":      {q("SELECT 1; SELECT 2 AS two; SELECT")},
	"empty query":             {q(""), q(" ; ")},
	"error":                   {q("SELECT 1/0"), q("SELECT 1")},
	"error among statements":  {q("SELECT 1; SELECT 1/0; SELECT 3")},
	"syntax error":            {q("SELECT 1; SELEC 2")},
	"aborted block":           {q("BEGIN"), q("SELECT 1/0"), q("SELECT 1"), q("COMMIT"), q("SELECT 1")},
	"rollback to savepoint":   {q("BEGIN"), q("SAVEPOINT a"), q("SELECT 1/0"), q("ROLLBACK TO SAVEPOINT a"), q("SELECT 1"), q("RELEASE a"), q("ROLLBACK TO a"), q("ROLLBACK")},
	"transaction warnings":    {q("COMMIT"), q("ROLLBACK"), q("BEGIN"), q("BEGIN"), q("COMMIT")},
	"savepoint outside block": {q("SAVEPOINT a"), q("RELEASE a")},
	"implicit block commands": {q("SELECT 1; COMMIT; SELECT 2")},
	"unnamed extended":        {ext(parse("", "SELECT $1::int + 1 AS n"), bind("", "", "41"), describe('P', ""), execute("", 0))},
	"named statement and portal": {
		ext(parse("s1", "SELECT $1::text AS t, 2 AS n"), describe('S', "s1")),
		ext(bind("p1", "s1", "hi"), describe('P', "p1"), execute("p1", 0), &pgproto3.Close{ObjectType: 'P', Name: "p1"}, &pgproto3.Close{ObjectType: 'S', Name: "s1"}),
		ext(bind("", "s1", "gone")),
	},
	"portal suspended": {ext(parse("", "SELECT g FROM generate_series(1, 5) g"), bind("p", ""), execute("p", 2), execute("p", 2), execute("p", 2))},
	"error mid pipeline": {ext(
		parse("", "SELECT 1"), bind("", ""), execute("", 0),
		parse("", "SELECT 1/0"), bind("", ""), execute("", 0),
		parse("", "SELECT 2"), bind("", ""), execute("", 0),
	), q("SELECT 3")},
	"syntax error at parse":       {ext(parse("", "SELEC 1"), bind("", ""), execute("", 0)), q("SELECT 1")},
	"missing statement":           {ext(bind("", "nope")), ext(describe('S', "nope"))},
	"missing portal":              {ext(describe('P', "nope")), ext(execute("nope", 0))},
	"duplicate statement":         {ext(parse("dup", "SELECT 1"), parse("dup", "SELECT 2")), ext(&pgproto3.Close{ObjectType: 'S', Name: "dup"})},
	"extended transaction":        {ext(parse("", "BEGIN"), bind("", ""), execute("", 0)), ext(parse("", "SELECT 1/0"), bind("", ""), execute("", 0)), ext(parse("", "SELECT 1"), bind("", ""), execute("", 0)), q("ROLLBACK")},
	"begin and commit in a batch": {ext(parse("", "BEGIN"), bind("", ""), execute("", 0), parse("", "SELECT 5"), bind("", ""), execute("", 0), parse("", "COMMIT"), bind("", ""), execute("", 0))},
	"flush": {
		{send: []pgproto3.FrontendMessage{parse("", "SELECT 7"), bind("", ""), execute("", 0), &pgproto3.Flush{}}, until: 'C'},
		{send: []pgproto3.FrontendMessage{&pgproto3.Sync{}}},
	},
	"query drops the unnamed statement": {ext(parse("", "SELECT 1")), q("SELECT 2"), ext(bind("", ""))},
	"describe of a write":               {q("CREATE TEMP TABLE wd (x int)"), ext(parse("w", "INSERT INTO wd VALUES ($1) RETURNING x", 23), describe('S', "w"), bind("", "w", "5"), execute("", 0)), q("SELECT x FROM wd")},
	"set and show":                      {q("SET DateStyle = 'German'"), q("SELECT '2024-01-02'::date"), q("SHOW DateStyle"), q("RESET DateStyle")},
	"copy out":                          {q("COPY (SELECT g, 'x' || g FROM generate_series(1, 3) g) TO STDOUT")},
	"parameter count mismatch":          {ext(parse("pc", "SELECT $1::int"), bind("", "pc"))},
}

// exchange runs a script against the server of dsn and renders the
// responses.
func exchange(t *testing.T, dsn string, steps []step) string {
	t.Helper()
	nc, fe := hijacked(t, dsn, map[string]string{"TimeZone": "UTC"})
	addr := nc.RemoteAddr().String()
	var out []string
	for i, st := range steps {
		for _, m := range st.send {
			fe.Send(m)
		}
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		until := st.until
		if until == 0 {
			until = 'Z'
		}
		for {
			msg, err := fe.Receive()
			if err != nil {
				t.Fatalf("step %d on %s: %v (so far: %s)", i, addr, err, strings.Join(out, " "))
			}
			line, kind := render(msg)
			if line != "" {
				out = append(out, line)
			}
			if kind == until {
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// render prints one response; ParameterStatus is left out (the router
// reports a setting once even when several backends report it).
func render(msg pgproto3.BackendMessage) (string, byte) {
	switch m := msg.(type) {
	case *pgproto3.ParseComplete:
		return "ParseComplete", '1'
	case *pgproto3.BindComplete:
		return "BindComplete", '2'
	case *pgproto3.CloseComplete:
		return "CloseComplete", '3'
	case *pgproto3.CommandComplete:
		return "CommandComplete " + string(m.CommandTag), 'C'
	case *pgproto3.DataRow:
		var vals []string
		for _, v := range m.Values {
			if v == nil {
				vals = append(vals, "NULL")
			} else {
				vals = append(vals, fmt.Sprintf("%q", v))
			}
		}
		return "DataRow " + strings.Join(vals, ","), 'D'
	case *pgproto3.ErrorResponse:
		return fmt.Sprintf("Error %s %s %q pos=%d", m.Severity, m.Code, m.Message, m.Position), 'E'
	case *pgproto3.NoticeResponse:
		return fmt.Sprintf("Notice %s %s %q", m.Severity, m.Code, m.Message), 'N'
	case *pgproto3.EmptyQueryResponse:
		return "EmptyQuery", 'I'
	case *pgproto3.NoData:
		return "NoData", 'n'
	case *pgproto3.ParameterDescription:
		return fmt.Sprintf("ParameterDescription %v", m.ParameterOIDs), 't'
	case *pgproto3.RowDescription:
		var f []string
		for _, fd := range m.Fields {
			f = append(f, fmt.Sprintf("%s:%d/%d", fd.Name, fd.DataTypeOID, fd.Format))
		}
		return "RowDescription " + strings.Join(f, ","), 'T'
	case *pgproto3.PortalSuspended:
		return "PortalSuspended", 's'
	case *pgproto3.ReadyForQuery:
		return fmt.Sprintf("ReadyForQuery %c", m.TxStatus), 'Z'
	case *pgproto3.CopyOutResponse:
		return fmt.Sprintf("CopyOut %d", len(m.ColumnFormatCodes)), 'H'
	case *pgproto3.CopyData:
		return fmt.Sprintf("CopyData %q", m.Data), 'd'
	case *pgproto3.CopyDone:
		return "CopyDone", 'c'
	case *pgproto3.ParameterStatus:
		return "", 'S'
	}
	return fmt.Sprintf("%T", msg), '?'
}

func TestWireDifferential(t *testing.T) {
	direct := stack.Info().Clusters[stack.Router.Snapshot().Map.DefaultClusterName()].Primary
	for name, steps := range wireScripts {
		t.Run(name, func(t *testing.T) {
			want := exchange(t, direct, steps)
			got := exchange(t, stack.RouterDSN(), steps)
			if got != want {
				t.Errorf("router answered differently from PostgreSQL\nrouter:\n%s\n\npostgres:\n%s", got, want)
			}
		})
	}
}

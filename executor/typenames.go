package executor

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// firstNormalOID is where PostgreSQL starts numbering user-made objects:
// types below it are built in and have the same OID everywhere.
const firstNormalOID = 16384

type typeKey struct {
	server string // "" for built-in types of no table column
	oid    uint32
	mod    int32
	table  uint32 // a column's table, whose collation counts
	attnum uint16
}

// typeNames caches format_type(oid, typmod): built-in types for every
// server, user-defined ones per server.
var typeNames sync.Map // typeKey -> string

func typeKeyFor(server string, f pgproto3.FieldDescription) typeKey {
	if f.DataTypeOID < firstNormalOID && f.TableOID == 0 {
		server = ""
	}
	return typeKey{server: server, oid: f.DataTypeOID, mod: f.TypeModifier, table: f.TableOID, attnum: f.TableAttributeNumber}
}

// columnTypes returns the SQL type of each field, as the server c names
// it, with the COLLATE clause of a table column whose collation is not its
// type's default, asking c for the ones not cached yet.
func (s *Session) columnTypes(ctx context.Context, c *conn, fields []pgproto3.FieldDescription) ([]string, error) {
	out := make([]string, len(fields))
	var missing []int
	for i, f := range fields {
		if v, ok := typeNames.Load(typeKeyFor(c.url, f)); ok {
			out[i] = v.(string)
		} else {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	var b strings.Builder
	b.WriteString("SELECT format_type(v.o::oid, v.m) || coalesce((SELECT ' COLLATE ' || quote_ident(cn.nspname) || '.' || quote_ident(co.collname)" +
		" FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_collation co ON co.oid = a.attcollation JOIN pg_namespace cn ON cn.oid = co.collnamespace" +
		" WHERE a.attrelid = v.r::oid AND a.attnum = v.k AND a.attcollation <> t.typcollation), '') FROM (VALUES ")
	for j, i := range missing {
		if j > 0 {
			b.WriteString(", ")
		}
		f := fields[i]
		fmt.Fprintf(&b, "(%d, %d, %d, %d, %d)", j, f.DataTypeOID, f.TypeModifier, f.TableOID, f.TableAttributeNumber)
	}
	b.WriteString(") v(n, o, m, r, k) ORDER BY n")
	rows, err := c.queryText(ctx, b.String())
	if err != nil {
		return nil, err
	}
	if len(rows) != len(missing) {
		return nil, pgerror.New(pgerror.InternalError, "format_type returned %d rows for %d types", len(rows), len(missing))
	}
	for j, i := range missing {
		out[i] = rows[j][0]
		typeNames.Store(typeKeyFor(c.url, fields[i]), rows[j][0])
	}
	return out, nil
}

// queryText runs a query with the simple protocol and returns its rows as
// text. The pipeline must be empty.
func (c *conn) queryText(ctx context.Context, sql string) ([][]string, error) {
	c.SendQuery(sql)
	c.unnamed = ""
	if err := c.Flush(ctx); err != nil {
		return nil, err
	}
	return c.awaitReady(ctx)
}

// describeTyped describes sql on c and names the type of each of its
// columns, for a temporary table that will hold its rows.
func (s *Session) describeTyped(ctx context.Context, c *conn, sql string, oids []uint32) ([]pgproto3.FieldDescription, []string, error) {
	fields, err := describeOn(ctx, c, sql, oids)
	if err != nil {
		return nil, nil, err
	}
	types, err := s.columnTypes(ctx, c, fields)
	if err != nil {
		return nil, nil, err
	}
	return fields, types, nil
}

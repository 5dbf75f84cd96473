package executor

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// keyBlockSize is how many values of a key's sequence the router takes
// at once. Values taken and not used are lost (a gap, as with a
// sequence's CACHE), and sessions get them out of order.
const keyBlockSize = 64

// KeyBlocks hands out values of key sequences that the router took in
// blocks, shared by every session of a router. Its zero value is ready;
// it is safe for concurrent use.
type KeyBlocks struct {
	mu     sync.Mutex
	blocks map[string]*keyBlock
	// gen counts the schema changes this router ran: sessions forget what
	// they learned of key defaults when it moves.
	gen atomic.Uint64
}

// schemaChanged notes DDL run through the router.
func (k *KeyBlocks) schemaChanged() {
	if k != nil {
		k.gen.Add(1)
	}
}

// generation is the count of schema changes so far.
func (k *KeyBlocks) generation() uint64 {
	if k == nil {
		return 0
	}
	return k.gen.Load()
}

type keyBlock struct {
	mu     sync.Mutex
	values []string
}

// take returns n values of the sequence named key, fetching more (at
// least a block) with fetch when too few are left.
func (k *KeyBlocks) take(ctx context.Context, key string, n int, fetch func(ctx context.Context, count int) ([]string, error)) ([]string, error) {
	if k == nil {
		return fetch(ctx, n)
	}
	k.mu.Lock()
	if k.blocks == nil {
		k.blocks = map[string]*keyBlock{}
	}
	b := k.blocks[key]
	if b == nil {
		b = &keyBlock{}
		k.blocks[key] = b
	}
	k.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.values) < n {
		more, err := fetch(ctx, max(n-len(b.values), keyBlockSize))
		if err != nil {
			return nil, err
		}
		b.values = append(b.values, more...)
	}
	out := slices.Clone(b.values[:n])
	b.values = b.values[n:]
	return out, nil
}

// keyDefault is what a key column takes when an INSERT leaves it out.
type keyDefault struct {
	sequence string // the sequence of a serial or identity column
	oid      string // and its OID: a sequence made again is another one
	expr     string // else the column's DEFAULT expression
	notNull  bool
}

// keyHome is the cluster whose sequence gives a table's generated keys:
// the first that holds the table.
func keyHome(t *shardmap.Table) string {
	return slices.Min(t.Distribution.Clusters())
}

// qualifiedName quotes a table's schema and name.
func qualifiedName(t *shardmap.Table) string {
	schema := t.Schema
	if schema == "" {
		schema = "public"
	}
	return quoteIdent(schema) + "." + quoteIdent(t.Name)
}

// keyDefaultOf asks the cluster c what the table's key column defaults
// to; the answer is kept for the session until DDL runs through the
// router (DDL run on the clusters directly is not seen: a key's default
// changed there takes effect in new sessions).
func (s *Session) keyDefaultOf(ctx context.Context, c *conn, t *shardmap.Table) (keyDefault, error) {
	name := qualifiedName(t)
	if gen := s.cfg.Keys.generation(); gen != s.keyDefaultsGen {
		s.keyDefaults, s.keyDefaultsGen = nil, gen
	}
	if d, ok := s.keyDefaults[name]; ok {
		return d, nil
	}
	rows, err := c.queryParams(ctx, `SELECT a.attnotnull, coalesce(pg_get_serial_sequence($1, $2), ''), coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
  coalesce(to_regclass(pg_get_serial_sequence($1, $2))::oid::text, '')
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped`, nil, [][]byte{[]byte(name), []byte(t.Key)}, nil)
	if err != nil {
		return keyDefault{}, err
	}
	if len(rows) == 0 {
		return keyDefault{}, pgerror.New("42703", "column \"%s\" of relation \"%s\" does not exist", t.Key, t.Name)
	}
	d := keyDefault{notNull: rows[0][0] == "t", sequence: rows[0][1], expr: rows[0][2], oid: rows[0][3]}
	if s.keyDefaults == nil {
		s.keyDefaults = map[string]keyDefault{}
	}
	s.keyDefaults[name] = d
	return d, nil
}

// generateKeys obtains n values of a table's key default, as text: from
// the key's sequence on the first cluster that holds the table (in blocks
// kept by the router), or by evaluating its DEFAULT expression there.
// Every cluster's copy of a sequence created through the router hands out
// values of its own range (package idrange), so these never meet values
// another cluster generates.
func (s *Session) generateKeys(ctx context.Context, t *shardmap.Table, n int) ([]string, error) {
	home := keyHome(t)
	c, err := s.routeConn(ctx, home)
	if err != nil {
		return nil, err
	}
	if err := s.quiet(ctx); err != nil { // the settings replay queued on c
		return nil, err
	}
	d, err := s.keyDefaultOf(ctx, c, t)
	if err != nil {
		return nil, err
	}
	query := func(sql string, args ...string) func(ctx context.Context, count int) ([]string, error) {
		return func(ctx context.Context, count int) ([]string, error) {
			values := [][]byte{}
			for _, a := range args {
				values = append(values, []byte(a))
			}
			values = append(values, []byte(strconv.Itoa(count)))
			rows, err := c.queryParams(ctx, sql, nil, values, nil)
			if err != nil {
				return nil, err
			}
			out := make([]string, len(rows))
			for i, r := range rows {
				out[i] = r[0]
			}
			return out, nil
		}
	}
	switch {
	case d.sequence != "":
		return s.cfg.Keys.take(ctx, c.url+" "+d.oid, n, query(`SELECT nextval($1::regclass)::text FROM generate_series(1, $2::int)`, d.sequence))
	case d.expr != "":
		return query(`SELECT (`+d.expr+`)::text FROM generate_series(1, $1::int)`)(ctx, n)
	case d.notNull:
		return nil, pgerror.New("23502", "null value in column \"%s\" of relation \"%s\" violates not-null constraint", t.Key, t.Name)
	}
	return nil, pgerror.Unsupported("inserting NULL into distribution key column %s of table %s is not supported", t.Key, t.Name).
		WithHint("Give %s a value, or a default (bigserial, identity).", t.Key)
}

// runGenKeys runs an INSERT ... VALUES whose keys come from the key's
// default: it takes the values, then places the rows with them as the
// statement's extra parameters.
func (s *Session) runGenKeys(ctx context.Context, g *planner.GenKeys, st planner.Statement, bound *boundParams) error {
	if ok, err := s.settle(ctx, true); !ok {
		return err
	}
	keys, err := s.generateKeys(ctx, g.Table, g.Count)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	b := &boundParams{}
	if bound != nil {
		b.oids, b.results = bound.oids, bound.results
		b.params.Values = bound.params.Values
		for i := range bound.params.Values {
			b.params.Formats = append(b.params.Formats, bound.params.Format(i))
		}
	}
	for len(b.params.Values) < g.First-1 {
		b.params.Values = append(b.params.Values, nil)
		b.params.Formats = append(b.params.Formats, 0)
	}
	for _, k := range keys {
		b.params.Values = append(b.params.Values, []byte(k))
		b.params.Formats = append(b.params.Formats, 0)
	}
	return s.runSplit(ctx, g.Inner, st, b, bound == nil)
}

// appendKeys adds a generated key, as text, at the end of every source
// row of an InsertSelect.
func appendKeys(src *sourceRows, keys []string) error {
	for i, row := range src.rows {
		vals, err := rowFields(row)
		if err != nil {
			return err
		}
		dr := pgproto3.DataRow{Values: append(vals, []byte(keys[i]))}
		buf, err := dr.Encode(nil)
		if err != nil {
			return err
		}
		src.rows[i] = buf[5:]
	}
	src.fields = append(src.fields, pgproto3.FieldDescription{Name: []byte("key"), DataTypeOID: oidText})
	src.formats = append(src.formats, 0)
	return nil
}

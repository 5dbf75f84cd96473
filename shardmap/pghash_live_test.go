package shardmap

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/localdeploy"
)

// TestHashMatchesLivePostgres compares HashKey with the server's own
// extended hash functions for thousands of values of every key type, and
// ParseKey with the server's input functions.
func TestHashMatchesLivePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	pg := localdeploy.StartTestPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rng := rand.New(rand.NewPCG(20240601, 7))

	t.Run("int2", func(t *testing.T) {
		// Every smallint there is.
		rows, err := conn.Query(ctx, `SELECT v::int2, hashint2extended(v::int2, 0) FROM generate_series(-32768, 32767) v`)
		if err != nil {
			t.Fatal(err)
		}
		var v int16
		var want int64
		n := 0
		_, err = pgx.ForEachRow(rows, []any{&v, &want}, func() error {
			n++
			if got := HashInt2Extended(v, 0); got != want {
				t.Errorf("hashint2extended(%d, 0): got %d, server %d", v, got, want)
			}
			if got := HashKey(IntKey(int64(v))); got != want {
				t.Errorf("HashKey(IntKey(%d)): got %d, server %d", v, got, want)
			}
			return nil
		})
		if err != nil || n != 65536 {
			t.Fatalf("%d rows, %v", n, err)
		}
	})

	t.Run("int4", func(t *testing.T) {
		vals := []int32{math.MinInt32, math.MinInt32 + 1, -65536, -32769, -1, 0, 1, 32768, 65535, math.MaxInt32 - 1, math.MaxInt32}
		for range 5000 {
			vals = append(vals, int32(rng.Uint32()))
		}
		compareInts(ctx, t, conn, `SELECT i, hashint4extended(v, 0) FROM unnest($1::int4[]) WITH ORDINALITY u(v, i)`, vals,
			func(v int32) int64 { return HashInt4Extended(v, 0) })
		compareInts(ctx, t, conn, `SELECT i, hashint4extended(v, 0) FROM unnest($1::int4[]) WITH ORDINALITY u(v, i)`, vals,
			func(v int32) int64 { return HashKey(IntKey(int64(v))) })
	})

	t.Run("int8", func(t *testing.T) {
		vals := []int64{math.MinInt64, math.MinInt64 + 1, math.MaxInt64, math.MaxInt64 - 1, 0, -1, 1}
		for _, b := range []int64{math.MinInt32, math.MaxInt32, 1 << 32, -1 << 32, math.MinInt16, math.MaxInt16} {
			for d := int64(-2); d <= 2; d++ {
				vals = append(vals, b+d)
			}
		}
		for range 5000 {
			vals = append(vals, int64(rng.Uint64()))
		}
		for range 1000 {
			vals = append(vals, rng.Int64N(1<<40)-1<<39) // small magnitudes, both signs
		}
		compareInts(ctx, t, conn, `SELECT i, hashint8extended(v, 0) FROM unnest($1::int8[]) WITH ORDINALITY u(v, i)`, vals,
			func(v int64) int64 { return HashKey(IntKey(v)) })
	})

	t.Run("text", func(t *testing.T) {
		vals := []string{"", "a", "hello world", "héllo wörld", "日本語テキスト", "🙂🙃", strings.Repeat("x", 1000), strings.Repeat("é", 777)}
		alphabets := []string{"abcdefghijklmnopqrstuvwxyz0123456789 -_", "aé日🙂Zz\t\n"}
		for length := 0; length <= 40; length++ {
			for _, alpha := range alphabets {
				for range 25 {
					vals = append(vals, randomText(rng, []rune(alpha), length))
				}
			}
		}
		for range 200 {
			vals = append(vals, randomText(rng, []rune(alphabets[1]), 41+rng.IntN(300)))
		}
		rows, err := conn.Query(ctx, `SELECT i, hashtextextended(v, 0) FROM unnest($1::text[]) WITH ORDINALITY u(v, i)`, vals)
		if err != nil {
			t.Fatal(err)
		}
		compareRows(t, rows, len(vals), func(i int) (int64, string) { return HashKey(TextKey(vals[i])), vals[i] })
	})

	t.Run("uuid", func(t *testing.T) {
		var keys []Key
		var texts []string
		for i := range 3000 {
			var u [16]byte
			for j := range u {
				u[j] = byte(rng.Uint32())
			}
			if i == 0 {
				u = [16]byte{}
			}
			k := UUIDKey(u)
			keys = append(keys, k)
			texts = append(texts, k.String())
		}
		rows, err := conn.Query(ctx, `SELECT i, uuid_hash_extended(v::uuid, 0) FROM unnest($1::text[]) WITH ORDINALITY u(v, i)`, texts)
		if err != nil {
			t.Fatal(err)
		}
		compareRows(t, rows, len(keys), func(i int) (int64, string) { return HashKey(keys[i]), texts[i] })
	})

	t.Run("ParseKey", func(t *testing.T) {
		compareInputFunctions(ctx, t, conn, rng)
	})
}

func randomText(rng *rand.Rand, alpha []rune, runes int) string {
	var b strings.Builder
	for range runes {
		b.WriteRune(alpha[rng.IntN(len(alpha))])
	}
	return b.String()
}

func compareInts[T int32 | int64](ctx context.Context, t *testing.T, conn *pgx.Conn, sql string, vals []T, hash func(T) int64) {
	t.Helper()
	rows, err := conn.Query(ctx, sql, vals)
	if err != nil {
		t.Fatal(err)
	}
	compareRows(t, rows, len(vals), func(i int) (int64, string) { return hash(vals[i]), "" })
}

// compareRows reads (1-based ordinality, server hash) rows and compares
// each with ours; label describes the value in failures.
func compareRows(t *testing.T, rows pgx.Rows, n int, ours func(i int) (hash int64, label string)) {
	t.Helper()
	var idx, want int64
	seen := 0
	failures := 0
	_, err := pgx.ForEachRow(rows, []any{&idx, &want}, func() error {
		seen++
		got, label := ours(int(idx - 1))
		if got != want && failures < 10 {
			failures++
			t.Errorf("value #%d %q: got %d, server %d", idx, label, got, want)
		}
		return nil
	})
	if err != nil || seen != n {
		t.Fatalf("%d of %d rows: %v", seen, n, err)
	}
	t.Logf("%d values compared", seen)
}

// compareInputFunctions checks that ParseKey accepts exactly what the
// server's input functions accept, with the same value.
func compareInputFunctions(ctx context.Context, t *testing.T, conn *pgx.Conn, rng *rand.Rand) {
	_, err := conn.Exec(ctx, `CREATE FUNCTION pg_temp.try_input(s text, typ text) RETURNS text LANGUAGE plpgsql AS $$
		DECLARE r text;
		BEGIN
			EXECUTE format('SELECT %L::%s::text', s, typ) INTO r;
			RETURN r;
		EXCEPTION WHEN others THEN
			RETURN NULL;
		END $$`)
	if err != nil {
		t.Fatal(err)
	}
	ints := []string{"0", "-0", "+0", " 42 ", "\t-7\n", "\v8\f", "1e3", "", " ", "+", "-", "0x10", "1_000", "- 1", "+-1",
		"32767", "32768", "-32768", "-32769", "2147483647", "2147483648", "-2147483648", "-2147483649",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"000000000000000000000000000042", "99999999999999999999", "12 3", "١٢", "4\u00a0"}
	pieces := []string{"", " ", "-", "+", "0", "7", "9", "32768", "2147483648", "x", "\t", "00"}
	for range 400 {
		var b strings.Builder
		for range 1 + rng.IntN(4) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		ints = append(ints, b.String())
	}
	uuids := []string{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC999C0B4EF8BB6D6BB9BD380A11",
		"{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}", "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
		"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-", "a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11", "", "{}"}
	hexdigits := "0123456789abcdefABCDEF"
	for range 400 {
		var b strings.Builder
		braced := rng.IntN(4) == 0
		if braced {
			b.WriteByte('{')
		}
		digits := 32
		if rng.IntN(5) == 0 {
			digits += rng.IntN(3) - 1
		}
		for i := range digits {
			b.WriteByte(hexdigits[rng.IntN(len(hexdigits))])
			if rng.IntN(40) == 0 || (i%4 == 3 && rng.IntN(2) == 0) {
				b.WriteByte('-')
			}
		}
		if rng.IntN(4) == 0 {
			b.WriteByte('}')
		} else if braced && rng.IntN(8) != 0 {
			b.WriteByte('}')
		}
		uuids = append(uuids, b.String())
	}
	check := func(typ KeyType, inputs []string) {
		var clean []string
		for _, s := range inputs {
			if utf8.ValidString(s) {
				clean = append(clean, s)
			}
		}
		rows, err := conn.Query(ctx, `SELECT i, pg_temp.try_input(s, $2) FROM unnest($1::text[]) WITH ORDINALITY u(s, i)`, clean, typ.PGName())
		if err != nil {
			t.Fatal(err)
		}
		var idx int64
		var server *string
		accepted := 0
		_, err = pgx.ForEachRow(rows, []any{&idx, &server}, func() error {
			in := clean[idx-1]
			k, err := ParseKey(typ, in)
			switch {
			case server == nil && err == nil:
				t.Errorf("%s %q: we accept (%v), the server refuses", typ, in, k)
			case server != nil && err != nil:
				t.Errorf("%s %q: the server accepts (%s), we refuse: %v", typ, in, *server, err)
			case server != nil && k.String() != *server:
				t.Errorf("%s %q: we read %v, the server %s", typ, in, k, *server)
			case server != nil:
				accepted++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d inputs, %d accepted by both", typ, len(clean), accepted)
	}
	check(KeyTypeSmallint, ints)
	check(KeyTypeInt, ints)
	check(KeyTypeBigint, ints)
	check(KeyTypeUUID, uuids)
}

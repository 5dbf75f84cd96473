package planner

import (
	"fmt"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

func TestNormalize(t *testing.T) {
	for _, c := range []struct {
		sql, shape string
		lits       []string // each literal's text and class, as "text/class"
	}{
		{"SELECT * FROM t WHERE id = 42", "SELECT * FROM t WHERE id = $1", []string{"42/i"}},
		{"select 1, 2.5, .5, 1e3, 3000000000, 007", "select $1, $2, $3, $4, $5, $6",
			[]string{"1/i", "2.5/n", ".5/n", "1e3/n", "3000000000/n", "007/i"}},
		{"SELECT 2147483647, 2147483648, -2147483648", "SELECT $1, $2, $3", []string{"2147483647/i", "2147483648/n", "-2147483648/n"}},
		{"x = -5 AND y=-5 AND z - 5 AND w -5 AND (-5) AND v < -5", "x = $1 AND y=$2 AND z - $3 AND w -$4 AND ($5) AND v < $6",
			[]string{"-5/i", "-5/i", "5/i", "5/i", "-5/i", "-5/i"}},
		{"SELECT -5::int, -5[1], - 5, @-5, x*-5", "SELECT -$1::int, -$2[$3], - $4, @-$5, x*$6", []string{"5/i", "5/i", "1/i", "5/i", "5/i", "-5/i"}},
		{"WHERE -1 = x THEN -1 ELSE -2.5 LIMIT -1", "WHERE $1 = x THEN $2 ELSE $3 LIMIT $4", []string{"-1/i", "-1/i", "-2.5/n", "-1/i"}},
		{"SELECT 'a', 'it''s', E'a\\nb', $$x'y$$, $q$a$$b$q$, B'0101', x'1F', N'n'", "SELECT $1, $2, $3, $4, $5, $6, $7, N $8",
			[]string{"'a'/s", "'it''s'/s", "E'a\\nb'/s", "$$x'y$$/s", "$q$a$$b$q$/s", "B'0101'/b", "x'1F'/x", "'n'/s"}},
		{"SELECT DATE '2024-01-01', INTERVAL '1 day', 'x'::text", "SELECT DATE $1, INTERVAL $2, $3::text",
			[]string{"'2024-01-01'/s", "'1 day'/s", "'x'/s"}},
		{"SELECT 'a'b, 1+2, t.\"col\"", "SELECT $1 b, $2+$3, t.\"col\"", []string{"'a'/s", "1/i", "2/i"}},
		{"SELECT $1, 5, $3 -- 7 \n /* 8 /* 9 */ */ ; SELECT 'x'", "SELECT $1, $4, $3 -- 7 \n /* 8 /* 9 */ */ ; SELECT $5",
			[]string{"5/i", "'x'/s"}},
		{"SELECT \"a''b\", 'c' FROM \"weird\"\"name\"", "SELECT \"a''b\", $1 FROM \"weird\"\"name\"", []string{"'c'/s"}},
		{"SELECT a$1, e'x' FROM t", "SELECT a$1, $1 FROM t", []string{"e'x'/s"}},
		{"SELECT 1..2", "", nil},
	} {
		s, ok := Normalize(c.sql)
		if c.shape == "" {
			if ok {
				t.Errorf("%q: normalized to %q, want a refusal", c.sql, s.Text)
			}
			continue
		}
		if !ok {
			t.Errorf("%q: refused", c.sql)
			continue
		}
		var got []string
		for _, l := range s.Literals {
			got = append(got, fmt.Sprintf("%s/%c", l.Text, l.Class))
		}
		if s.Text != c.shape || strings.Join(got, " ") != strings.Join(c.lits, " ") {
			t.Errorf("%q:\n got %q %v\nwant %q %v", c.sql, s.Text, got, c.shape, c.lits)
		}
		if back := s.Denormalize(); back != c.sql {
			t.Errorf("%q: denormalized to %q", c.sql, back)
		}
	}
}

// The texts the normalizer refuses: it cannot vouch for their literals.
func TestNormalizeRefuses(t *testing.T) {
	for _, sql := range []string{
		"SELECT 'unterminated",
		"SELECT \"unterminated",
		"SELECT /* unterminated",
		"SELECT $$unterminated",
		"SELECT $tag",
		"SELECT U&'d\\0061t'",
		"SELECT E'\\101', E'\\x41', E'\\u0041'",
		"SELECT 0x1F", "SELECT 1_000", "SELECT 12abc", "SELECT 1e", "SELECT 1.5.2", "SELECT 5$$x$$",
		"SELECT 'a'\n'b'", "SELECT 'a' -- c\n 'b'", "SELECT 'a' 'b'",
		"SELECT $1abc", "SELECT 'a\x00'", "SELECT '\xf7'", "SELECT $$\xf7$$",
	} {
		if s, ok := Normalize(sql); ok {
			t.Errorf("%q: normalized to %q, want a refusal", sql, s.Text)
		}
	}
}

// TestNormalizeAgreesWithPostgres checks every corpus text against
// PostgreSQL's own lexer and parser (checkAgainstPostgres).
func TestNormalizeAgreesWithPostgres(t *testing.T) {
	for _, cq := range loadCorpus(t) {
		checkNormalized(t, cq.sql)
	}
}

// FuzzNormalize: the normalizer never panics; a text it normalizes comes
// back unchanged from its shape and literals, its shape holds no literal,
// and its literals are the constants PostgreSQL's lexer and parser see.
func FuzzNormalize(f *testing.F) {
	for _, sql := range shapeCorner {
		f.Add(sql)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		checkNormalized(t, sql)
	})
}

func checkNormalized(t *testing.T, sql string) {
	t.Helper()
	s, ok := Normalize(sql)
	if !ok {
		return
	}
	if back := s.Denormalize(); back != sql {
		t.Fatalf("%q: denormalized to %q", sql, back)
	}
	again, ok := Normalize(s.Text)
	if !ok || len(again.Literals) != 0 || again.Text != s.Text {
		t.Fatalf("%q: its shape %q normalizes to %q (ok %v) with %d literals", sql, s.Text, again.Text, ok, len(again.Literals))
	}
	checkAgainstPostgres(t, sql, s)
}

// checkAgainstPostgres compares the literals with pg_query's scanner (each
// literal is one constant token, a negative one a minus sign and a
// constant; every constant token is a literal) and with its parse tree (a
// constant at a literal's position has the literal's value).
func checkAgainstPostgres(t *testing.T, sql string, s Shape) {
	t.Helper()
	scan, err := pg_query.Scan(sql)
	if err != nil {
		return
	}
	classOf := map[pg_query.Token]LiteralClass{pg_query.Token_ICONST: LiteralInteger, pg_query.Token_FCONST: LiteralNumeric,
		pg_query.Token_SCONST: LiteralString, pg_query.Token_BCONST: LiteralBits, pg_query.Token_XCONST: LiteralHex}
	byStart := map[int]*pg_query.ScanToken{}
	for _, tok := range scan.Tokens {
		byStart[int(tok.Start)] = tok
	}
	covered := map[int]bool{}
	for _, l := range s.Literals {
		start := l.Start
		if strings.HasPrefix(l.Text, "-") {
			if tok := byStart[start]; tok == nil || tok.Token != pg_query.Token_ASCII_45 {
				t.Fatalf("%q: literal %q: no minus token at %d", sql, l.Text, start)
			}
			start++
		}
		tok := byStart[start]
		if tok == nil || classOf[tok.Token] != l.Class || int(tok.End) != l.End {
			t.Fatalf("%q: literal %q (%c at %d-%d) is not one token: %v", sql, l.Text, l.Class, l.Start, l.End, tok)
		}
		covered[start] = true
	}
	for _, tok := range scan.Tokens {
		if _, isConst := classOf[tok.Token]; isConst && !covered[int(tok.Start)] {
			t.Fatalf("%q: constant %q not found", sql, sql[tok.Start:tok.End])
		}
	}
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return
	}
	var n normalizer
	if !n.scan(sql) {
		t.Fatalf("%q: scan failed after Normalize succeeded", sql)
	}
	walkNodes(tree, func(node *pg_query.Node) {
		c := node.GetAConst()
		if c == nil || c.Location < 0 {
			return
		}
		for i := range n.lits {
			if l := &n.lits[i]; l.start == int(c.Location) && !sameConst(c, n.constOf(l)) {
				t.Fatalf("%q: literal %q is %v to PostgreSQL, %v to the normalizer", sql, sql[l.start:l.end], c, n.constOf(l))
			}
		}
	})
}

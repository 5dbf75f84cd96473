package planner

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// corpusQuery is one simple-protocol text of a corpus, with the map it is
// planned against.
type corpusQuery struct {
	where string
	sql   string
	m     *shardmap.Map
}

// loadCorpus reads every simple-protocol query of the golden cases and of
// the differential suite.
func loadCorpus(t *testing.T) []corpusQuery {
	t.Helper()
	var out []corpusQuery
	golden := loadTestMap(t)
	files, err := filepath.Glob("testdata/*_cases.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var cases []goldenCase
		if err := json.Unmarshal(data, &cases); err != nil {
			t.Fatal(err)
		}
		for i, c := range cases {
			if c.ParamTypes == nil && c.Bind == nil {
				out = append(out, corpusQuery{where: fmt.Sprintf("%s case %d", file, i), sql: c.Query, m: golden})
			}
		}
	}
	doc, err := os.ReadFile("../difftest/testdata/shardmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	clusters := "clusters:\n" +
		"  s0: {primary: \"postgres://app@127.0.0.1:5433/app\"}\n" +
		"  s1: {primary: \"postgres://app@127.0.0.1:5435/app\"}\n" +
		"  s2: {primary: \"postgres://app@127.0.0.1:5437/app\"}\n" +
		"coordinator: \"postgres://app@127.0.0.1:5440/app\""
	diffMap, err := shardmap.Parse([]byte(strings.Replace(string(doc), "clusters: {}", clusters, 1)))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("../difftest/testdata/queries.sql")
	if err != nil {
		t.Fatal(err)
	}
	// Queries are separated by blank lines; lines starting with -- are
	// comments of the file.
	for i, block := range strings.Split(string(data), "\n\n") {
		var lines []string
		for _, line := range strings.Split(block, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "--") {
				lines = append(lines, line)
			}
		}
		if sql := strings.TrimSpace(strings.Join(lines, "\n")); sql != "" {
			out = append(out, corpusQuery{where: fmt.Sprintf("queries.sql block %d", i), sql: sql, m: diffMap})
		}
	}
	for i, sql := range shapeCorner {
		out = append(out, corpusQuery{where: fmt.Sprintf("shapeCorner %d", i), sql: sql, m: golden})
	}
	return out
}

// shapeCorner are texts whose literals the planner must not read the same
// way as a parameter (the golden map: customers by bigint id, devices by
// uuid, tags by text name, stores by list of region, events by int range).
var shapeCorner = []string{
	"SELECT * FROM customers WHERE id = -5",
	"SELECT * FROM customers WHERE id = - 5",
	"SELECT * FROM customers WHERE id=-5",
	"SELECT * FROM customers WHERE id = -5::bigint",
	"SELECT * FROM customers WHERE id = (-5)::int",
	"SELECT * FROM customers WHERE id = -(5)",
	"SELECT * FROM customers WHERE id = 9223372036854775807",
	"SELECT * FROM customers WHERE id = 9223372036854775808",
	"SELECT * FROM customers WHERE id = 3000000000",
	"SELECT * FROM customers WHERE id = 5.0",
	"SELECT * FROM customers WHERE id = 1e3",
	"SELECT * FROM customers WHERE id = '42'",
	"SELECT * FROM customers WHERE id = 'x42'",
	`SELECT * FROM customers WHERE id = E'4\\2'`,
	`SELECT * FROM customers WHERE id = E'4\062'`,
	"SELECT * FROM customers WHERE id = $$42$$",
	"SELECT * FROM customers WHERE id = int8 '42'",
	"SELECT * FROM customers WHERE id = '42'::int2",
	"SELECT * FROM customers WHERE id = 70000::int2",
	"SELECT * FROM customers WHERE id = '42'::numeric",
	"SELECT * FROM customers WHERE id = 42::varchar(10)",
	"SELECT * FROM customers WHERE id = B'101'",
	"SELECT * FROM customers WHERE id = X'1F'",
	"SELECT * FROM customers WHERE id = ANY('{1,2}')",
	"SELECT * FROM customers WHERE id = ANY(ARRAY[1, 2])",
	"SELECT * FROM customers WHERE id IN (1, 2, 3)",
	"SELECT * FROM customers WHERE id IN (1, 1)",
	"SELECT * FROM customers WHERE id = 1 OR id = 2",
	"SELECT * FROM customers WHERE id = 1 AND id = 2",
	"SELECT * FROM customers WHERE id = 1 AND id = 'x'",
	"SELECT * FROM customers WHERE id = 3000000000 AND id = 7",
	"SELECT * FROM customers WHERE id = 7 AND id > 3 AND id < 10",
	"SELECT * FROM customers WHERE id = 7 OR id = NULL",
	"SELECT * FROM customers WHERE id = 7 LIMIT 10 OFFSET 2",
	"SELECT name, count(*) FROM customers WHERE id = 7 GROUP BY 1 ORDER BY 2 DESC",
	"SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id = 7 AND o.customer_id = 7",
	"SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.id = 7 AND o.customer_id = 8",
	"SELECT * FROM devices WHERE id = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
	"SELECT * FROM devices WHERE id = 'not a uuid'",
	"SELECT * FROM tags WHERE name = 'red'",
	`SELECT * FROM tags WHERE name = E'it\'s'`,
	`SELECT * FROM tags WHERE name = E'a\tb\\c\qd'`,
	"SELECT * FROM tags WHERE name = 'it''s'",
	"SELECT * FROM tags WHERE name = 42",
	`SELECT * FROM tags WHERE name = U&'d\0061t'`,
	"SELECT * FROM tags WHERE name = 'a' 'b'",
	"SELECT * FROM tags WHERE name = 'a'\n'b'",
	"SELECT * FROM stores WHERE region = 'us'",
	"SELECT * FROM stores WHERE region = 'xx'",
	"SELECT * FROM events WHERE ts = 1500",
	"SELECT * FROM events WHERE ts = 2500",
	"SELECT created_at > DATE '2024-01-01', now() - INTERVAL '1 day' FROM customers WHERE id = 7",
	"SELECT 1::numeric(10,2), CAST(2 AS varchar(5)), 3::float(30) FROM customers WHERE id = 7",
	"SELECT * FROM customers WHERE id = 7 /* sqlrouter.read_consistency=eventual */",
	"SELECT * FROM customers WHERE id = 7 AND name = '/* sqlrouter.read_consistency=eventual */'",
	"  -- leading comment\n SELECT * FROM customers WHERE id = 7 ;  ",
	"SELECT * FROM customers WHERE id = 7; SELECT * FROM customers WHERE id = 8",
	"INSERT INTO customers (id, name) VALUES (7, 'x')",
	"INSERT INTO customers (id, name) VALUES (7, 'x'), (8, 'y'), (9, 'z')",
	"INSERT INTO customers (id, name) VALUES (7, 'x'), (7, 'y') RETURNING id",
	"INSERT INTO customers (id, name) VALUES (-7, 'x') ON CONFLICT (id) DO UPDATE SET name = 'y'",
	"INSERT INTO stores (region, name) VALUES ('zz', 'x')",
	"INSERT INTO countries (code, name) VALUES ('fr', 'France')",
	"UPDATE customers SET name = 'x', score = score + 1 WHERE id = 7",
	"UPDATE customers SET id = 8 WHERE id = 7",
	"DELETE FROM customers WHERE id = 7 RETURNING *",
	"SELECT * FROM customers WHERE id = 7 FOR UPDATE",
	"SELECT * INTO TEMP t FROM generate_series(1, 3)",
	"SELECT 1, 'a', 2.5",
	"SELECT * FROM countries WHERE code = 'fr'",
	"SET statement_timeout = 5",
	"EXPLAIN SELECT * FROM customers WHERE id = 7",
}

// variants rewrites the literals of sql: integers to other integers,
// strings to other strings of the same flavour (numbers, words, uuids).
// Variant 0 is the text itself; the variants differ in every literal.
func variants(t *testing.T, sql string) []string {
	s, ok := Normalize(sql)
	if !ok {
		return []string{sql}
	}
	out := []string{sql}
	for v := 1; v <= 4; v++ {
		lits := make([]Literal, len(s.Literals))
		copy(lits, s.Literals)
		for i := range lits {
			lits[i].Text = otherLiteral(lits[i], v*(i+3))
		}
		out = append(out, Shape{Text: s.Text, Literals: lits}.Denormalize())
	}
	return out
}

func otherLiteral(l Literal, v int) string {
	switch l.Class {
	case LiteralInteger:
		if v%5 == 0 {
			return "3000000000" // beyond int4: another class
		}
		n, _ := strconv.Atoi(l.Text)
		return strconv.Itoa(n*7 + v)
	case LiteralString:
		body := strings.Trim(l.Text, "'")
		if _, err := strconv.Atoi(body); err == nil {
			if v%4 == 0 {
				return "'not a number'"
			}
			return fmt.Sprintf("'%d'", v*13)
		}
		if len(body) == 36 && strings.Count(body, "-") == 4 {
			return fmt.Sprintf("'%08d-0000-4000-8000-%012d'", v, v)
		}
		words := []string{"'us'", "'eu'", "'ca'", "'jp'", "'it''s'", "'zz'"}
		return words[v%len(words)]
	}
	return l.Text
}

// TestShapePlansEqualTextPlans plans every corpus query, and variants of
// it with other literal values, both ways: from the text alone, and
// through a planner whose shape cache holds the shape planned from
// another text. The statements, plans included, must be identical.
func TestShapePlansEqualTextPlans(t *testing.T) {
	served, total := 0, 0
	for _, cq := range loadCorpus(t) {
		texts := variants(t, cq.sql)
		// The template is learnt from the text itself, then from a variant.
		for first := range min(2, len(texts)) {
			p := New(Options{})
			ctx := Context{Map: cq.m, Revision: 1}
			if _, err := p.PlanQuery(ctx, texts[first]); err != nil {
				_ = err // the shape is still learnt
			}
			check := texts
			if !hasTemplate(p) {
				check = texts[first : first+1] // planned from its text: once shows it
			}
			for _, text := range check {
				total++
				want, wantErr := parseAndPlan(&Context{Map: cq.m, Revision: 1}, text)
				var q Query
				gotErr := p.PlanQueryInto(ctx, text, &q)
				if _, fromText := p.cache.get(textKey(ctx, text)); !fromText {
					served++
				}
				if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
					t.Fatalf("%s: %q\nerror through shape: %v\nfrom text: %v", cq.where, text, gotErr, wantErr)
				}
				if !sameStatements(q.Stmts, want) {
					t.Fatalf("%s: %q\nthrough shape: %s\nfrom text:     %s", cq.where, text, describeStmts(q.Stmts), describeStmts(want))
				}
			}
		}
	}
	t.Logf("%d of %d plans made from a shape's template", served, total)
	if served < 500 {
		t.Errorf("only %d of %d plans made from templates: the comparison proves little", served, total)
	}
}

// hasTemplate reports whether p holds a shape with a template.
func hasTemplate(p *Planner) bool {
	p.shapes.mu.Lock()
	defer p.shapes.mu.Unlock()
	for _, it := range p.shapes.items {
		if it.value.tmpl != nil {
			return true
		}
	}
	return false
}

func describeStmts(stmts []Statement) string {
	var parts []string
	for _, st := range stmts {
		parts = append(parts, fmt.Sprintf("%+v %s", st, Explain(st.Plan)))
	}
	return strings.Join(parts, "; ")
}

// sameStatements compares statements field by field; Routes (the only
// plans a shape's template makes) must be deeply equal, other plans
// (which hold parse trees) print the same.
func sameStatements(a, b []Statement) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if _, ok := x.Plan.(*Route); ok {
			if !reflect.DeepEqual(x, y) {
				return false
			}
			continue
		}
		if reflect.TypeOf(x.Plan) != reflect.TypeOf(y.Plan) || Explain(x.Plan) != Explain(y.Plan) {
			return false
		}
		x.Plan, y.Plan = nil, nil
		if x != y {
			return false
		}
	}
	return true
}

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
	for _, script := range []string{"queries.sql", "writes.sql", "joins.sql"} {
		for i, sql := range readScript(t, "../difftest/testdata/"+script) {
			out = append(out, corpusQuery{where: fmt.Sprintf("%s block %d", script, i), sql: sql, m: diffMap})
		}
	}
	for i, sql := range shapeCorner {
		out = append(out, corpusQuery{where: fmt.Sprintf("shapeCorner %d", i), sql: sql, m: golden})
	}
	return out
}

// readScript reads the statements of a differential script: separated
// by blank lines, lines starting with -- are comments of the file.
func readScript(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, block := range strings.Split(string(data), "\n\n") {
		var lines []string
		for _, line := range strings.Split(block, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "--") {
				lines = append(lines, line)
			}
		}
		if sql := strings.TrimSpace(strings.Join(lines, "\n")); sql != "" {
			out = append(out, sql)
		}
	}
	return out
}

// variants rewrites the literals of sql: integers to other integers,
// strings to other strings of the same flavour (numbers, words, uuids),
// some into literals of another class. Variant 0 is the text itself; the
// variants differ in every literal. seed picks other values.
func variants(sql string, seed int) []string {
	s, ok := Normalize(sql)
	if !ok {
		return []string{sql}
	}
	out := []string{sql}
	for v := seed + 1; v <= seed+4; v++ {
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
		switch v % 11 {
		case 5:
			return "3000000000" // beyond int4: another class
		case 7:
			return "-2147483648" // numeric to the lexer, negated
		case 9:
			return "2147483647"
		}
		n, _ := strconv.Atoi(l.Text)
		return strconv.Itoa(n*7 + v)
	case LiteralNumeric:
		if v%3 == 0 {
			return "-9223372036854775808"
		}
		return strconv.Itoa(v*1000) + ".5"
	case LiteralString:
		body := l.Text[strings.IndexByte(l.Text, '\'')+1 : len(l.Text)-1]
		if l.Text[0] == '$' {
			body = ""
		}
		if _, err := strconv.Atoi(body); err == nil {
			switch v % 5 {
			case 0:
				return "'not a number'"
			case 3:
				return fmt.Sprintf("$$%d$$", -v*13)
			}
			return fmt.Sprintf("'%d'", v*13)
		}
		if len(body) == 36 && strings.Count(body, "-") == 4 {
			return fmt.Sprintf("'%08d-0000-4000-8000-%012d'", v, v)
		}
		words := []string{"'us'", "'eu'", "'ca'", "'jp'", "'it''s'", "'zz'", `E'it\'s'`, "$q$e'u$q$", "'true'", "'off'"}
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
		s, n := checkShapePlans(t, cq.m, cq.where, variants(cq.sql, 0))
		served, total = served+s, total+n
	}
	t.Logf("%d of %d plans made from a shape's template", served, total)
	if served < 1000 {
		t.Errorf("only %d of %d plans made from templates: the comparison proves little", served, total)
	}
}

// FuzzShapePlans: a text and variants of its literals plan the same
// through the shape cache as from their text.
func FuzzShapePlans(f *testing.F) {
	for i, sql := range shapeCorner {
		f.Add(sql, uint8(i))
	}
	m := loadTestMap(f)
	f.Fuzz(func(t *testing.T, sql string, seed uint8) {
		checkShapePlans(t, m, "fuzz", variants(sql, int(seed)))
	})
}

// checkShapePlans learns the shape of texts from the first text, then
// from the second, and compares the plan of every text through the shape
// cache (twice: the second is served as a repeat) with its plan from the
// text alone. It returns how many plans came from a template, of how
// many.
func checkShapePlans(t testing.TB, m *shardmap.Map, where string, texts []string) (served, total int) {
	t.Helper()
	ctx := Context{Map: m, Revision: 1}
	for first := range min(2, len(texts)) {
		p := New(Options{})
		if _, err := p.PlanQuery(ctx, texts[first]); err != nil {
			_ = err // the shape is still learnt
		}
		check := texts
		if !hasTemplate(p) {
			check = texts[first : first+1] // planned from its text: once shows it
		}
		for _, text := range check {
			want, wantErr := parseAndPlan(&Context{Map: m, Revision: 1}, text)
			var q Query
			for range 2 {
				total++
				gotErr := p.PlanQueryInto(ctx, text, &q)
				if _, fromText := p.cache.get(textKey(ctx, text)); !fromText {
					served++
				}
				if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
					t.Fatalf("%s: %q\nerror through shape: %v\nfrom text: %v", where, text, gotErr, wantErr)
				}
				if !sameStatements(q.Stmts, want) {
					t.Fatalf("%s: %q\nthrough shape: %s\nfrom text:     %s", where, text, describeStmts(q.Stmts), describeStmts(want))
				}
			}
		}
	}
	return served, total
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

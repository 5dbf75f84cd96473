package difftest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/sqlrouter/sqlrouter/devstack"
	"github.com/sqlrouter/sqlrouter/localdeploy"
)

var (
	stack     *devstack.Stack
	reference *localdeploy.Postgres
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	doc, err := os.ReadFile("testdata/shardmap.yaml")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bin, err := localdeploy.FindBinaries()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "sqlrouter-difftest-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	reference, err = localdeploy.StartPostgres(ctx, bin, localdeploy.PostgresOptions{DataDir: filepath.Join(dir, "reference"), Name: "reference"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: reference server:", err)
		return 1
	}
	defer reference.Stop(context.Background())
	return devstack.RunTests(m, devstack.Options{Shards: 3, Replicas: localdeploy.None, ShardMap: doc}, &stack)
}

var (
	loadOnce sync.Once
	loadErr  error
)

// setup returns connections to the router and to the reference server,
// with the data loaded (once for the package).
func setup(t *testing.T) (router, ref *pgconn.PgConn) {
	t.Helper()
	ctx := context.Background()
	var err error
	router, err = pgconn.Connect(ctx, stack.RouterDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { router.Close(ctx) })
	ref, err = pgconn.Connect(ctx, reference.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close(ctx) })
	loadOnce.Do(func() {
		for _, c := range []*pgconn.PgConn{router, ref} {
			for _, sql := range append(append([]string{}, schema...), data()...) {
				if _, err := c.Exec(ctx, sql).ReadAll(); err != nil {
					loadErr = fmt.Errorf("load: %v\n%s", err, sql[:min(len(sql), 200)])
					return
				}
			}
		}
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	for _, c := range []*pgconn.PgConn{router, ref} {
		// The same session settings on both sides.
		if _, err := c.Exec(ctx, "SET TimeZone = 'America/New_York'").ReadAll(); err != nil {
			t.Fatal(err)
		}
	}
	return router, ref
}

// query is one entry of the corpus.
type query struct {
	sql     string
	line    int
	errCode string
}

// loadQueries reads a corpus file of testdata/.
func loadQueries(t *testing.T, file string) []query {
	return loadScript(t, filepath.Join("testdata", file))
}

// loadScript reads statements separated by blank lines; "-- error CODE"
// before one says the reference must fail it with CODE.
func loadScript(t *testing.T, path string) []query {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []query
	var cur []string
	var code string
	start := 0
	flush := func() {
		if len(cur) > 0 {
			out = append(out, query{sql: strings.Join(cur, "\n"), line: start, errCode: code})
		}
		cur, code = nil, ""
	}
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			flush()
		case strings.HasPrefix(trimmed, "-- error "):
			code = strings.TrimPrefix(trimmed, "-- error ")
		case strings.HasPrefix(trimmed, "--"):
		default:
			if len(cur) == 0 {
				start = i + 1
			}
			cur = append(cur, line)
		}
	}
	flush()
	return out
}

// answer is what a server said to a query, rendered for comparison.
type answer struct {
	columns string
	rows    []string
	tag     string
	errCode string
	errMsg  string
}

func ask(ctx context.Context, c *pgconn.PgConn, sql string) answer {
	res, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		var pe *pgconn.PgError
		if e, ok := err.(*pgconn.PgError); ok {
			pe = e
		}
		if pe == nil {
			return answer{errCode: "?", errMsg: err.Error()}
		}
		return answer{errCode: pe.Code, errMsg: pe.Message}
	}
	r := res[len(res)-1]
	var a answer
	var cols []string
	for _, f := range r.FieldDescriptions {
		cols = append(cols, fmt.Sprintf("%s:%d", f.Name, f.DataTypeOID))
	}
	a.columns = strings.Join(cols, ", ")
	for _, row := range r.Rows {
		var vals []string
		for _, v := range row {
			if v == nil {
				vals = append(vals, "NULL")
			} else {
				vals = append(vals, fmt.Sprintf("%q", v))
			}
		}
		a.rows = append(a.rows, strings.Join(vals, " | "))
	}
	a.tag = r.CommandTag.String()
	return a
}

// ordered reports whether a query's top level has ORDER BY.
func ordered(sql string) bool {
	tree, err := pg_query.Parse(sql)
	if err != nil || len(tree.Stmts) == 0 {
		return false
	}
	s := tree.Stmts[0].Stmt.GetSelectStmt()
	return s != nil && len(s.SortClause) > 0
}

func TestDifferential(t *testing.T) {
	router, ref := setup(t)
	queries := loadQueries(t, "queries.sql")
	if len(queries) < 200 {
		t.Errorf("the corpus has %d queries, want at least 200", len(queries))
	}
	ctx := context.Background()
	failures := 0
	for _, q := range queries {
		got, want := ask(ctx, router, q.sql), ask(ctx, ref, q.sql)
		if msg := compare(q, got, want); msg != "" {
			failures++
			t.Errorf("queries.sql:%d: %s\n%s", q.line, msg, q.sql)
		}
	}
	t.Logf("%d queries, %d differ", len(queries), failures)
}

func compare(q query, got, want answer) string {
	if q.errCode != "" && want.errCode != q.errCode {
		return fmt.Sprintf("the reference answered %s %s, the corpus expects %s", want.errCode, want.errMsg, q.errCode)
	}
	if want.errCode != "" || got.errCode != "" {
		if got.errCode != want.errCode {
			return fmt.Sprintf("router error %s %q, reference error %s %q", got.errCode, got.errMsg, want.errCode, want.errMsg)
		}
		return ""
	}
	if got.columns != want.columns {
		return fmt.Sprintf("columns differ\nrouter:    %s\nreference: %s", got.columns, want.columns)
	}
	if got.tag != want.tag {
		return fmt.Sprintf("command tag %q, want %q", got.tag, want.tag)
	}
	g, w := got.rows, want.rows
	if !ordered(q.sql) {
		g, w = slices.Clone(g), slices.Clone(w)
		slices.Sort(g)
		slices.Sort(w)
	}
	if !slices.Equal(g, w) {
		return "rows differ\n" + diffRows(g, w)
	}
	return ""
}

func diffRows(got, want []string) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "router %d rows, reference %d rows\n", len(got), len(want))
	shown := 0
	for i := 0; i < max(len(got), len(want)) && shown < 8; i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			fmt.Fprintf(&b, "  row %d\n    router:    %s\n    reference: %s\n", i, g, w)
			shown++
		}
	}
	return b.String()
}

package planner

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current plans")

// goldenCase is one entry of testdata/<area>_cases.json.
type goldenCase struct {
	Comment string `json:"comment"`
	Query   string `json:"query"`
	// ParamTypes are declared parameter type OIDs (extended protocol).
	ParamTypes []uint32 `json:"param_types,omitempty"`
	// Bind lists parameter values (text format) to resolve the plan with.
	Bind []*string `json:"bind,omitempty"`
	Plan string    `json:"plan"`
}

func loadTestMap(t testing.TB) *shardmap.Map {
	t.Helper()
	data, err := os.ReadFile("testdata/shardmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := shardmap.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// describe prints what the planner does with a case: each statement's plan
// (resolved with Bind when given) or the error.
func describe(p *Planner, m *shardmap.Map, c goldenCase) string {
	ctx := Context{Map: m, Revision: 1, ParamOIDs: c.ParamTypes}
	var stmts []Statement
	if c.ParamTypes != nil || c.Bind != nil {
		st, err := p.PlanPrepared(ctx, c.Query)
		if err != nil {
			return errorText(err)
		}
		stmts = []Statement{st}
	} else {
		var err error
		stmts, err = p.PlanQuery(ctx, c.Query)
		if err != nil {
			return errorText(err)
		}
	}
	if len(stmts) == 0 {
		return "(no statements)"
	}
	var out []string
	for _, st := range stmts {
		s := Explain(st.Plan)
		if c.Bind != nil {
			s += "\n" + bindText(st.Plan, c.Bind)
		}
		out = append(out, s)
	}
	return strings.Join(out, "\n---\n")
}

func bindText(p Plan, bind []*string) string {
	params := Params{}
	for _, b := range bind {
		if b == nil {
			params.Values = append(params.Values, nil)
		} else {
			params.Values = append(params.Values, []byte(*b))
		}
	}
	switch p := p.(type) {
	case *Route:
		cs, err := p.Target.Resolve(params)
		if err == nil && p.KeyMove != nil {
			_, err = p.Cluster(params)
		}
		if err != nil {
			return "bind: " + errorText(err)
		}
		return "bind: " + strings.Join(cs, ", ")
	case *FanOut:
		cs, err := p.Target.Resolve(params)
		if err != nil {
			return "bind: " + errorText(err)
		}
		return "bind: " + strings.Join(cs, ", ")
	case *GenKeys:
		return bindText(p.Inner, bind)
	case *SplitInsert:
		parts, err := p.Split(params)
		if err != nil {
			return "bind: " + errorText(err)
		}
		var lines []string
		for _, pt := range parts {
			lines = append(lines, fmt.Sprintf("bind: %s rows %v params %v: %s", pt.Cluster, pt.Rows, pt.Params, pt.SQL))
		}
		return strings.Join(lines, "\n")
	}
	return "bind: (local)"
}

func errorText(err error) string {
	return fmt.Sprintf("ERROR %s: %s", pgerror.Code(err), pgerror.Response(err).Message)
}

func TestGolden(t *testing.T) {
	m := loadTestMap(t)
	files, err := filepath.Glob("testdata/*_cases.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var cases []goldenCase
			if err := json.Unmarshal(data, &cases); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			p := New(Options{})
			for i := range cases {
				got := describe(p, m, cases[i])
				if *update {
					cases[i].Plan = got
					continue
				}
				if got != cases[i].Plan {
					t.Errorf("%s case %d (%s)\nquery: %s\n got: %s\nwant: %s", file, i, cases[i].Comment, cases[i].Query, got, cases[i].Plan)
				}
			}
			if *update {
				out, err := json.MarshalIndent(cases, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, append(out, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

package shardmap

import (
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the expected issues in testdata/validation.txt")

const validationFile = "testdata/validation.txt"

// validationCase is one case of testdata/validation.txt.
type validationCase struct {
	name     string
	schema   string // accept, reject or skip
	doc      string
	expected []string
}

func TestValidationMessages(t *testing.T) {
	raw, err := os.ReadFile(validationFile)
	if err != nil {
		t.Fatal(err)
	}
	preamble, cases := parseValidationFile(t, string(raw))
	if len(cases) < 40 {
		t.Fatalf("only %d cases parsed", len(cases))
	}
	sch := shardMapSchema(t)
	names := map[string]bool{}
	for i := range cases {
		c := &cases[i]
		if names[c.name] {
			t.Errorf("case %q appears twice", c.name)
		}
		names[c.name] = true
		_, err := Parse([]byte(c.doc))
		var got []string
		var ve *ValidationError
		switch {
		case err == nil:
			got = []string{"(accepted)"}
		case errors.As(err, &ve):
			for _, is := range ve.Issues {
				got = append(got, is.String())
			}
		default:
			t.Errorf("%s: Parse returned %T, want *ValidationError: %v", c.name, err, err)
		}
		if *update {
			c.expected = got
		} else if strings.Join(got, "\n") != strings.Join(c.expected, "\n") {
			t.Errorf("%s:\ngot:\n%s\nwant:\n%s", c.name, strings.Join(got, "\n"), strings.Join(c.expected, "\n"))
		}

		v, isValue := schemaValue([]byte(c.doc))
		verdict := "skip"
		if isValue {
			verdict = "accept"
			if sch.Validate(v) != nil {
				verdict = "reject"
			}
		}
		if verdict != c.schema {
			t.Errorf("%s: the schema says %s, the case says %s", c.name, verdict, c.schema)
		}
	}
	if *update {
		if err := os.WriteFile(validationFile, []byte(formatValidationFile(preamble, cases)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func parseValidationFile(t *testing.T, s string) (string, []validationCase) {
	t.Helper()
	chunks := strings.Split(s, "\n=== ")
	preamble := chunks[0]
	var cases []validationCase
	for _, ch := range chunks[1:] {
		header, body, _ := strings.Cut(ch, "\n")
		name, schema, ok := strings.Cut(header, " | schema: ")
		if !ok {
			t.Fatalf("bad case header %q", header)
		}
		doc, expected, ok := strings.Cut(body, "\n----\n")
		if !ok {
			t.Fatalf("case %q has no ---- line", name)
		}
		c := validationCase{name: name, schema: schema, doc: doc + "\n"}
		for _, line := range strings.Split(strings.TrimRight(expected, "\n"), "\n") {
			if line != "" {
				c.expected = append(c.expected, line)
			}
		}
		cases = append(cases, c)
	}
	return preamble, cases
}

func formatValidationFile(preamble string, cases []validationCase) string {
	var b strings.Builder
	b.WriteString(preamble)
	for _, c := range cases {
		b.WriteString("\n=== " + c.name + " | schema: " + c.schema + "\n")
		b.WriteString(c.doc)
		b.WriteString("----\n")
		for _, e := range c.expected {
			b.WriteString(e + "\n")
		}
	}
	return b.String()
}

package shardmap

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const schemaPath = "../schemas/shardmap.schema.json"

var (
	schemaOnce     sync.Once
	compiledSchema *jsonschema.Schema
	schemaErr      error
)

// shardMapSchema compiles schemas/shardmap.schema.json once per test run.
func shardMapSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		f, err := os.Open(schemaPath)
		if err != nil {
			schemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if schemaErr = c.AddResource("shardmap.schema.json", doc); schemaErr != nil {
			return
		}
		compiledSchema, schemaErr = c.Compile("shardmap.schema.json")
	})
	if schemaErr != nil {
		t.Fatalf("compile %s: %v", schemaPath, schemaErr)
	}
	return compiledSchema
}

// schemaValue turns a YAML or JSON document into the value the schema
// validator checks (the JSON data model); ok is false when the text is
// not a single YAML value.
func schemaValue(data []byte) (v any, ok bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&v); err != nil && !errors.Is(err, io.EOF) {
		return nil, false
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, false // a stream of several documents
	}
	// Round-trip through JSON so YAML-only types (e.g. map[any]any) show.
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	var out any
	jdec := json.NewDecoder(bytes.NewReader(raw))
	jdec.UseNumber()
	if err := jdec.Decode(&out); err != nil {
		return nil, false
	}
	return out, true
}

func TestExamplesValidateAndParse(t *testing.T) {
	sch := shardMapSchema(t)
	files, err := filepath.Glob("../schemas/examples/*")
	if err != nil || len(files) < 4 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			v, ok := schemaValue(data)
			if !ok {
				t.Fatal("not a YAML value")
			}
			if err := sch.Validate(v); err != nil {
				t.Errorf("schema rejects it: %v", err)
			}
			m, _, err := Load(path)
			if err != nil {
				t.Fatalf("Parse rejects it: %v", err)
			}
			// The canonical encoding is valid too, and stable.
			enc, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := schemaValue(enc); sch.Validate(v) != nil {
				t.Errorf("schema rejects the encoding:\n%s", enc)
			}
			m2, err := Parse(enc)
			if err != nil {
				t.Fatalf("Parse rejects the encoding: %v\n%s", err, enc)
			}
			if enc2, _ := m2.Encode(); string(enc2) != string(enc) {
				t.Errorf("encoding is not stable:\n%s\n---\n%s", enc, enc2)
			}
		})
	}
}

// TestSchemaMatchesKnownFields guards against the schema and the parser
// drifting apart: each schema object has exactly the fields the parser
// accepts for it.
func TestSchemaMatchesKnownFields(t *testing.T) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]any `json:"properties"`
		Defs       map[string]struct {
			Properties map[string]any `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"":              topFields,
		"cluster":       clusterFields,
		"replica":       replicaFields,
		"distribution":  distributionFields,
		"hashRange":     hashRangeFields,
		"keyRange":      keyRangeFields,
		"valueList":     valueListFields,
		"table":         tableFields,
		"verticalGroup": verticalGroupFields,
	}
	for def, fields := range want {
		props := s.Properties
		if def != "" {
			props = s.Defs[def].Properties
		}
		if len(props) != len(fields) {
			t.Errorf("schema %q has %d properties, parser knows %v", def, len(props), fields)
		}
		for _, f := range fields {
			f = strings.TrimPrefix(f, "!")
			if _, ok := props[f]; !ok {
				t.Errorf("schema %q lacks %q", def, f)
			}
		}
	}
}

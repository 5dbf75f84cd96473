package docs

import (
	"bufio"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/sqlrouter/sqlrouter/router"
)

// root is the repository, seen from this package.
const root = ".."

func readDoc(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Every configuration key of router.Config (the mapstructure tags, as
// `sqlrouter serve` reads them) is in the configuration reference with its
// environment variable.
func TestConfigKeysAreDocumented(t *testing.T) {
	doc := readDoc(t, "configuration.md")
	keys := configKeys()
	if len(keys) < 10 {
		t.Fatalf("found only %d configuration keys: %v", len(keys), keys)
	}
	for _, key := range keys {
		env := "SQLROUTER_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		if !strings.Contains(doc, "`"+key+"`") {
			t.Errorf("configuration.md does not document key `%s`", key)
		}
		if !strings.Contains(doc, env) {
			t.Errorf("configuration.md does not name the environment variable %s of %s", env, key)
		}
	}
}

// configKeys lists the dotted keys of router.Config from its mapstructure
// tags (the logic of configKeys in cmd/sqlrouter).
func configKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("mapstructure")
			if tag == "" || tag == "-" {
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() != "time" {
				walk(f.Type, prefix+tag+".")
				continue
			}
			keys = append(keys, prefix+tag)
		}
	}
	walk(reflect.TypeOf(router.Config{}), "")
	return keys
}

// Every field of the shard map (the properties of its JSON Schema, which a
// test of package shardmap keeps equal to what the parser accepts) is in
// the shard map reference, by its path: `clusters.<name>.replicas[].url`.
func TestShardMapFieldsAreDocumented(t *testing.T) {
	doc := readDoc(t, "shardmap.md")
	paths := schemaPaths(t)
	if len(paths) < 20 {
		t.Fatalf("found only %d fields in the schema: %v", len(paths), paths)
	}
	for _, p := range paths {
		if !strings.Contains(doc, "`"+p+"`") {
			t.Errorf("shardmap.md does not document field `%s`", p)
		}
	}
}

// schemaPaths walks schemas/shardmap.schema.json: properties add
// ".field", a map's values (additionalProperties) add ".<name>", an
// array's items add "[]".
func schemaPaths(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "schemas", "shardmap.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	defs, _ := schema["$defs"].(map[string]any)
	found := map[string]bool{}
	var walk func(node any, path string, seen map[string]bool)
	walk = func(node any, path string, seen map[string]bool) {
		n, ok := node.(map[string]any)
		if !ok {
			return
		}
		if ref, ok := n["$ref"].(string); ok {
			name := ref[strings.LastIndex(ref, "/")+1:]
			if !seen[name] {
				next := map[string]bool{name: true}
				for k := range seen {
					next[k] = true
				}
				walk(defs[name], path, next)
			}
		}
		if props, ok := n["properties"].(map[string]any); ok {
			for name, sub := range props {
				p := strings.TrimPrefix(path+"."+name, ".")
				found[p] = true
				walk(sub, p, seen)
			}
		}
		if sub, ok := n["additionalProperties"].(map[string]any); ok {
			walk(sub, path+".<name>", seen)
		}
		if sub, ok := n["items"]; ok {
			walk(sub, path+"[]", seen)
		}
		for _, k := range []string{"oneOf", "anyOf", "allOf"} {
			if list, ok := n[k].([]any); ok {
				for _, sub := range list {
					walk(sub, path, seen)
				}
			}
		}
		for _, k := range []string{"if", "then", "else"} {
			walk(n[k], path, seen)
		}
	}
	walk(schema, "", map[string]bool{})
	var out []string
	for p := range found {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Every message of the validator's cases (shardmap/testdata/validation.txt,
// one case per rule) is quoted in the shard map reference.
func TestValidatorMessagesAreDocumented(t *testing.T) {
	doc := readDoc(t, "shardmap.md")
	f, err := os.Open(filepath.Join(root, "shardmap", "testdata", "validation.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var messages []string
	inExpected := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "=== "):
			inExpected = false
		case line == "----":
			inExpected = true
		case line == "":
			inExpected = false
		case inExpected:
			messages = append(messages, line)
		}
	}
	if len(messages) < 30 {
		t.Fatalf("read only %d messages from validation.txt", len(messages))
	}
	for _, m := range messages {
		if !strings.Contains(doc, m) {
			t.Errorf("shardmap.md does not quote the validator message:\n%s", m)
		}
	}
}

// Every SQLSTATE the router raises itself has an entry in the
// troubleshooting page: a heading "### `CODE` ...". The codes are read from
// the code: the first argument of every pgerror.New, 0A000 for
// pgerror.Unsupported, the Code of every pgerror.Error literal, and every
// pgerror code constant used outside package pgerror.
func TestSQLSTATEsAreDocumented(t *testing.T) {
	doc := readDoc(t, "troubleshooting.md")
	codes := raisedCodes(t)
	if len(codes) < 15 {
		t.Fatalf("found only %d SQLSTATEs in the code: %v", len(codes), codes)
	}
	heading := regexp.MustCompile("(?m)^### `([0-9A-Z]{5})`")
	documented := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(doc, -1) {
		documented[m[1]] = true
	}
	for _, code := range codes {
		if !documented[code] {
			t.Errorf("troubleshooting.md has no entry \"### `%s`\" (raised by the router)", code)
		}
	}
}

// raisedCodes parses every non-test Go file of the module.
func raisedCodes(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	type file struct {
		dir string
		ast *ast.File
	}
	var files []file
	// Package-level string constants by package directory, and those of
	// package pgerror by name.
	consts := map[string]map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		files = append(files, file{dir, f})
		if consts[dir] == nil {
			consts[dir] = map[string]string{}
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							v, _ := strconv.Unquote(lit.Value)
							consts[dir][name.Name] = v
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pgerrorConsts := consts[filepath.Join(root, "pgerror")]
	if len(pgerrorConsts) == 0 {
		t.Fatal("no constants found in package pgerror")
	}
	sqlstate := regexp.MustCompile(`^[0-9A-Z]{5}$`)
	found := map[string]bool{}
	add := func(code string) {
		if sqlstate.MatchString(code) {
			found[code] = true
		}
	}
	resolve := func(dir string, e ast.Expr) {
		switch e := e.(type) {
		case *ast.BasicLit:
			v, _ := strconv.Unquote(e.Value)
			add(v)
		case *ast.Ident:
			add(consts[dir][e.Name])
		case *ast.SelectorExpr:
			if x, ok := e.X.(*ast.Ident); ok && x.Name == "pgerror" {
				add(pgerrorConsts[e.Sel.Name])
			}
		}
	}
	for _, f := range files {
		if f.ast.Name.Name == "pgerror" {
			continue
		}
		ast.Inspect(f.ast, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "pgerror" {
					switch sel.Sel.Name {
					case "New":
						if len(n.Args) > 0 {
							resolve(f.dir, n.Args[0])
						}
					case "Unsupported":
						add(pgerrorConsts["FeatureNotSupported"])
					}
				}
			case *ast.CompositeLit:
				if sel, ok := n.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Error" {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "pgerror" {
						for _, el := range n.Elts {
							if kv, ok := el.(*ast.KeyValueExpr); ok {
								if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Code" {
									resolve(f.dir, kv.Value)
								}
							}
						}
					}
				}
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && x.Name == "pgerror" {
					add(pgerrorConsts[n.Sel.Name])
				}
			}
			return true
		})
	}
	var out []string
	for c := range found {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Every router setting the code knows (a string literal "sqlrouter.name"
// in a non-test file) is in the consistency page's table of settings.
func TestRouterSettingsAreDocumented(t *testing.T) {
	doc := readDoc(t, "consistency.md")
	setting := regexp.MustCompile(`^sqlrouter\.[a-z_]+$`)
	found := map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if v, err := strconv.Unquote(lit.Value); err == nil && setting.MatchString(v) {
					found[v] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < 2 {
		t.Fatalf("found only %d router settings in the code: %v", len(found), found)
	}
	for name := range found {
		if !strings.Contains(doc, "| `"+name+"` |") {
			t.Errorf("consistency.md has no row for the router setting %s", name)
		}
	}
}

// Every relative link of the README and of the manual leads to a file of
// the repository, and to a heading of it when it names one; every page of
// the manual is linked from the README or the manual's index.
func TestLinksLead(t *testing.T) {
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	sources := append([]string{filepath.Join(root, "README.md")}, pages...)
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	linked := map[string]bool{}
	for _, src := range sources {
		text := readDoc(t, src)
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := src
			if file != "" {
				path = filepath.Join(filepath.Dir(src), file)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s links to %s: %v", src, target, err)
				continue
			}
			linked[filepath.Clean(path)] = true
			if anchor != "" && strings.HasSuffix(path, ".md") && !slices.Contains(anchors(t, path), anchor) {
				t.Errorf("%s links to %s: no such heading in %s", src, target, path)
			}
		}
	}
	for _, p := range pages {
		if p != "README.md" && !linked[filepath.Clean(p)] {
			t.Errorf("docs/%s is linked from neither the README nor docs/README.md", p)
		}
	}
}

// anchors lists the GitHub-style anchors of a Markdown file's headings.
func anchors(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	inCode := false
	for _, line := range strings.Split(readDoc(t, path), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, r := range h {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				b.WriteRune(r)
			}
		}
		out = append(out, b.String())
	}
	return out
}

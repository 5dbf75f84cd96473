package shardmap

import (
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// extraNodes bounds the work of walking a document beyond its own size:
// aliases can make a small text expand into a huge tree. A document
// without aliases never reaches the budget (each node takes at least one
// byte of text and is resolved a few times).
const extraNodes = 1000000

// walker reads a YAML node tree with a path for every value and collects
// issues instead of stopping at the first one.
type walker struct {
	iss      issues
	nodes    int // resolve calls so far
	maxNodes int // budget for resolve calls
	physical []physicalRef
}

// field is one key/value pair of a mapping.
type field struct {
	name  string
	key   *yaml.Node
	value *yaml.Node
	path  string
}

// identRE is an SQL identifier as PostgreSQL accepts it unquoted (ASCII
// letters, digits, _ and $, not starting with a digit or $).
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)

// maxIdentLen is NAMEDATALEN-1: PostgreSQL truncates longer identifiers.
const maxIdentLen = 63

func isIdent(s string) bool { return len(s) <= maxIdentLen && identRE.MatchString(s) }

// childPath appends a mapping key to a path: `a.b` for identifier-like
// keys, `a["b.c"]` for anything else.
func childPath(path, key string) string {
	if identRE.MatchString(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// indexPath appends a list index to a path.
func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func (w *walker) addAt(n *yaml.Node, path, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	w.iss.add(path, line, col, format, args...)
}

// resolve follows aliases and counts visited nodes; nil means the budget
// is exhausted (reported once).
func (w *walker) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	w.nodes++
	if w.nodes == w.maxNodes {
		line, col := 0, 0
		if n != nil {
			line, col = n.Line, n.Column
		}
		w.iss.addCapped(false, "", line, col, "the document is too large after expanding aliases")
	}
	if w.nodes >= w.maxNodes {
		return nil
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "a scalar"
	}
	return "something else"
}

// mapping returns the pairs of a mapping node in document order, reporting
// duplicate and non-scalar keys.
func (w *walker) mapping(n *yaml.Node, path string) ([]field, bool) {
	n = w.resolve(n)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		w.addAt(n, path, "must be a mapping, not %s", kindName(n))
		return nil, false
	}
	seen := make(map[string]bool, len(n.Content)/2)
	out := make([]field, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := w.resolve(n.Content[i])
		if k == nil {
			return nil, false
		}
		if k.Kind != yaml.ScalarNode {
			w.addAt(k, path, "keys must be plain names, not %s", kindName(k))
			continue
		}
		fp := childPath(path, k.Value)
		if seen[k.Value] {
			w.addAt(k, fp, "duplicate key")
			continue
		}
		seen[k.Value] = true
		out = append(out, field{name: k.Value, key: k, value: n.Content[i+1], path: fp})
	}
	return out, true
}

// object reads a mapping with a fixed set of fields, reporting unknown
// and missing required ones. Required names are marked with a leading '!'.
func (w *walker) object(n *yaml.Node, path string, names ...string) (map[string]field, bool) {
	fs, ok := w.mapping(n, path)
	if !ok {
		return nil, false
	}
	known := make(map[string]bool, len(names))
	plain := make([]string, len(names))
	for i, nm := range names {
		plain[i] = strings.TrimPrefix(nm, "!")
		known[plain[i]] = true
	}
	out := make(map[string]field, len(fs))
	for _, f := range fs {
		if !known[f.name] {
			w.addAt(f.key, f.path, "unknown field %q (expected one of: %s)", f.name, strings.Join(plain, ", "))
			continue
		}
		out[f.name] = f
	}
	for i, nm := range names {
		if strings.HasPrefix(nm, "!") {
			if _, ok := out[plain[i]]; !ok {
				w.addAt(n, path, "missing required field %q", plain[i])
			}
		}
	}
	return out, true
}

// sequence returns the items of a list node.
func (w *walker) sequence(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	n = w.resolve(n)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		w.addAt(n, path, "must be a list, not %s", kindName(n))
		return nil, false
	}
	return n.Content, true
}

// isNull reports whether n is an explicit null (null, ~ or empty).
func (w *walker) isNull(n *yaml.Node) bool {
	r := w.resolve(n)
	return r != nil && r.Kind == yaml.ScalarNode && r.Tag == "!!null"
}

// scalar returns the text of a non-null scalar, exactly as written after
// YAML unquoting.
func (w *walker) scalar(n *yaml.Node, path string) (string, bool) {
	n = w.resolve(n)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		w.addAt(n, path, "must be a single value, not %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

// str is scalar for fields that hold names and URLs: a string is required
// but YAML's unquoted numbers and booleans are taken as written.
func (w *walker) str(n *yaml.Node, path string) (string, bool) {
	s, ok := w.scalar(n, path)
	if ok && s == "" {
		w.addAt(n, path, "must not be empty")
		return "", false
	}
	return s, ok
}

// boolean reads a YAML boolean (true or false).
func (w *walker) boolean(n *yaml.Node, path string) (bool, bool) {
	n = w.resolve(n)
	if n == nil {
		return false, false
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	w.addAt(n, path, "must be true or false")
	return false, false
}

// integer reads a YAML integer.
func (w *walker) integer(n *yaml.Node, path string) (int64, bool) {
	n = w.resolve(n)
	if n == nil {
		return 0, false
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		var v int64
		if err := n.Decode(&v); err == nil {
			return v, true
		}
	}
	w.addAt(n, path, "must be an integer")
	return 0, false
}

// node returns n with aliases resolved (for positions in messages).
func (w *walker) node(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

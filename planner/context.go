package planner

import (
	"strings"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// Context is what a plan depends on besides the statement's text.
type Context struct {
	// Map is the shard map to plan against.
	Map *shardmap.Map
	// Revision identifies Map (its etcd revision); plans are cached per
	// revision.
	Revision int64
	// SearchPath is the session's search_path setting as text ("" means
	// the default, "$user", public).
	SearchPath string
	// ParamOIDs are the parameter types a Parse message declared (0 =
	// left to the server to infer).
	ParamOIDs []uint32

	// version is the parse tree format version, for deparsing rewrites.
	version int32
	// shape is set while planning a statement's shape: parameters from
	// shape.first on stand for its literals.
	shape *shapeUses
	// virtual are tables a distributed plan makes up for one statement
	// (rows shipped to clusters), by name.
	virtual map[string]*shardmap.Table
}

// Type OIDs of the parameter types the router can read a key from.
const (
	oidUnspecified = 0
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidUnknown     = 705
	oidVarchar     = 1043
	oidUUID        = 2950
)

// paramUsable reports whether parameter n, compared with a key of type t,
// is compared by t's own equality, so the router can place its value.
func (c *Context) paramUsable(n int, t shardmap.KeyType) bool {
	if n < 1 {
		return false
	}
	var oid uint32
	if n <= len(c.ParamOIDs) {
		oid = c.ParamOIDs[n-1]
	}
	switch oid {
	case oidUnspecified:
		return true // the server infers the key's own type
	case oidInt2, oidInt4, oidInt8:
		return t.Kind() == shardmap.KindInt
	case oidText, oidVarchar, oidUnknown:
		return t.Kind() == shardmap.KindText
	case oidUUID:
		return t.Kind() == shardmap.KindUUID
	}
	return false
}

// Array type OIDs of the key types.
const (
	oidInt2Array    = 1005
	oidInt4Array    = 1007
	oidTextArray    = 1009
	oidVarcharArray = 1015
	oidInt8Array    = 1016
	oidUUIDArray    = 2951
)

// arrayParamUsable reports whether key = ANY($n) compares the key with the
// elements of $n by the key type's equality.
func (c *Context) arrayParamUsable(n int, t shardmap.KeyType) bool {
	if n < 1 {
		return false
	}
	var oid uint32
	if n <= len(c.ParamOIDs) {
		oid = c.ParamOIDs[n-1]
	}
	switch oid {
	case oidUnspecified:
		return true // inferred as an array of the key's type
	case oidInt2Array, oidInt4Array, oidInt8Array:
		return t.Kind() == shardmap.KindInt
	case oidTextArray, oidVarcharArray:
		return t.Kind() == shardmap.KindText
	case oidUUIDArray:
		return t.Kind() == shardmap.KindUUID
	}
	return false
}

// searchPath returns the schemas an unqualified table name is looked up in.
// "$user" entries are skipped: the router does not know which per-user
// schemas exist (documented).
func (c *Context) searchPath() []string {
	if c.SearchPath == "" {
		return []string{"public"}
	}
	var out []string
	for _, part := range strings.Split(c.SearchPath, ",") {
		s := strings.TrimSpace(part)
		if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
			s = strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
		} else {
			s = strings.ToLower(s)
		}
		if s == "" || s == "$user" {
			continue
		}
		out = append(out, s)
	}
	return out
}

// lookupTable finds a table of the map by the name a statement wrote.
func (c *Context) lookupTable(schema, name string) *shardmap.Table {
	if t := c.extraTable(schema, name); t != nil {
		return t
	}
	if schema != "" {
		t, _ := c.Map.LookupTable(schema, name)
		return t
	}
	for _, s := range c.searchPath() {
		if t, ok := c.Map.LookupTable(s, name); ok {
			return t
		}
	}
	return nil
}

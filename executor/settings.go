package executor

import (
	"maps"
	"sort"
	"strings"

	"github.com/sqlrouter/sqlrouter/planner"
)

// setting is one SET-like command of the session.
type setting struct {
	name  string // lower case; "all" for RESET ALL
	sql   string
	value string // for settings the router reads ("" = default)
	reset bool   // RESET or SET ... TO DEFAULT
}

// pendingSetting is a setting changed inside the current transaction: it
// becomes part of the session when the transaction commits.
type pendingSetting struct {
	setting
	local bool // SET LOCAL / SET TRANSACTION: gone at transaction end
	depth int  // number of savepoints when it was set
}

// settings is the client's session configuration as the backends must see
// it. Every backend session the client uses gets the committed settings
// replayed before its first use, so a cluster reached late in the session
// behaves like the first.
type settings struct {
	// base are the client's startup parameters: RESET returns to them.
	base      []setting
	committed []setting
	gen       int
	pending   []pendingSetting
	// text is the replay of base and committed ("" = server defaults).
	text string
	// identity is set once the session changed its role or session
	// authorization, which RESET ALL does not undo.
	identity bool
	// resetBase is set when the last transaction reset a startup
	// parameter: the backends that ran it hold the server's default.
	resetBase bool
}

// add records a SET inside the current transaction.
func (st *settings) add(p *planner.SessionSet, depth int) {
	s := setting{name: p.Name, sql: p.SQL, value: p.Value, reset: p.Reset && p.Kind != planner.SetLocal}
	st.pending = append(st.pending, pendingSetting{setting: s, local: p.Kind == planner.SetLocal, depth: depth})
}

// end applies (commit) or drops the transaction's settings.
func (st *settings) end(commit bool) {
	pending := st.pending
	st.pending = nil
	if !commit {
		return
	}
	changed := false
	st.resetBase = false
	for _, p := range pending {
		if p.local {
			continue
		}
		changed = true
		if p.name == "all" || (p.reset && st.inBase(p.name)) {
			st.resetBase = true
		}
		if p.name == "all" {
			st.committed = nil
			continue
		}
		st.committed = removeSetting(st.committed, p.name)
		if !p.reset {
			st.committed = append(st.committed, p.setting)
		}
	}
	if changed {
		st.gen++
		st.refresh()
	}
}

// inBase reports a startup parameter.
func (st *settings) inBase(name string) bool {
	for _, b := range st.base {
		if b.name == name {
			return true
		}
	}
	return false
}

// refresh recomputes the replay text.
func (st *settings) refresh() {
	for _, c := range st.committed {
		if c.name == "role" || c.name == "session_authorization" {
			st.identity = true
		}
	}
	if len(st.base) == 0 && len(st.committed) == 0 && !st.identity {
		st.text = ""
		return
	}
	var b strings.Builder
	b.WriteString("RESET ALL")
	if st.identity {
		b.WriteString("; SET SESSION AUTHORIZATION DEFAULT; RESET ROLE")
	}
	for _, list := range [][]setting{st.base, st.committed} {
		for _, s := range list {
			b.WriteString("; ")
			b.WriteString(s.sql)
		}
	}
	st.text = b.String()
}

// hasIdentity reports a role or session authorization in force.
func (st *settings) hasIdentity() bool {
	for _, c := range st.committed {
		if c.name == "role" || c.name == "session_authorization" {
			return true
		}
	}
	return false
}

func removeSetting(list []setting, name string) []setting {
	out := list[:0]
	for _, s := range list {
		if s.name != name {
			out = append(out, s)
		}
	}
	return out
}

// rollbackTo drops what was set after savepoint number depth was made.
func (st *settings) rollbackTo(depth int) {
	out := st.pending[:0]
	for _, p := range st.pending {
		if p.depth < depth {
			out = append(out, p)
		}
	}
	st.pending = out
}

// release keeps settings made after a released savepoint, at the outer
// depth.
func (st *settings) release(depth int) {
	for i := range st.pending {
		if st.pending[i].depth > depth {
			st.pending[i].depth = depth
		}
	}
}

// value is the effective value of a setting the router reads: the latest
// change in the transaction, else the committed one, else the startup
// parameter ("" = default).
func (st *settings) value(name string) string {
	for i := len(st.pending) - 1; i >= 0; i-- {
		p := st.pending[i]
		if p.name == "all" || (p.name == name && p.reset) {
			return st.baseValue(name)
		}
		if p.name == name {
			return p.value
		}
	}
	for i := len(st.committed) - 1; i >= 0; i-- {
		if st.committed[i].name == name {
			return st.committed[i].value
		}
	}
	return st.baseValue(name)
}

func (st *settings) baseValue(name string) string {
	for _, b := range st.base {
		if b.name == name {
			return b.value
		}
	}
	return ""
}

// syncSettings queues the settings replay on c when it is behind.
func (s *Session) syncSettings(c *conn) {
	want := s.settings.text
	if c.Applied == want {
		return
	}
	sql := want
	if sql == "" {
		sql = "RESET ALL"
	}
	s.internal(c, sql)
	c.Applied = want
	if s.settings.identity {
		c.dirty = true
	}
}

// startupSettings turns the client's startup parameters into SET
// commands, in a stable order.
func startupSettings(params map[string]string) []setting {
	if _, ok := params["application_name"]; !ok {
		// The router names its own backend sessions; a client that names
		// no application sees none, as with PostgreSQL.
		params = maps.Clone(params)
		if params == nil {
			params = map[string]string{}
		}
		params["application_name"] = ""
	}
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]setting, 0, len(names))
	for _, name := range names {
		lname := strings.ToLower(name)
		out = append(out, setting{name: lname, value: params[name],
			sql: "SET " + quoteSettingName(lname) + " = " + quoteLiteral(params[name])})
	}
	return out
}

// quoteSettingName quotes each dot-separated part of a setting's name.
func quoteSettingName(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = quoteIdent(p)
	}
	return strings.Join(parts, ".")
}

// quoteLiteral quotes a string constant.
func quoteLiteral(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

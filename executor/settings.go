package executor

import (
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
	committed []setting
	gen       int
	pending   []pendingSetting
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
	for _, p := range pending {
		if p.local {
			continue
		}
		changed = true
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
	}
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
// change in the transaction, else the committed one ("" = default).
func (st *settings) value(name string) string {
	for i := len(st.pending) - 1; i >= 0; i-- {
		p := st.pending[i]
		if p.name == "all" {
			return ""
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
	return ""
}

// replay is the text that brings a backend session from the startup
// defaults to the committed settings.
func (st *settings) replay() string {
	var b strings.Builder
	b.WriteString("RESET ALL")
	for _, s := range st.committed {
		b.WriteString("; ")
		b.WriteString(s.sql)
	}
	return b.String()
}

// syncSettings queues the settings replay on c when it is behind.
func (s *Session) syncSettings(c *conn) {
	if c.settingsGen == s.settings.gen {
		return
	}
	s.internal(c, s.settings.replay())
	c.settingsGen = s.settings.gen
}

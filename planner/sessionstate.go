package planner

import (
	"errors"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// holdsSessionState reports statements that leave state in the backend
// session beyond their transaction, which a pooled connection must not
// hand to another client: temporary objects, session advisory locks,
// LISTEN, set_config(..., false). (SET ROLE and SET SESSION
// AUTHORIZATION are settings; the executor sees them by name.)
func holdsSessionState(n *pg_query.Node, sql string) bool {
	if createsTemp(n) {
		return true
	}
	if _, ok := unwrap(n).(*pg_query.ListenStmt); ok {
		return true
	}
	if !containsFold(sql, "advisory") && !containsFold(sql, "set_config") && !containsFold(sql, "dblink") {
		return false
	}
	found := false
	inspect(unwrap(n), func(m proto.Message) bool {
		f, ok := m.(*pg_query.FuncCall)
		if !ok || found {
			return !found
		}
		names := nameList(f.Funcname)
		switch name := names[len(names)-1]; {
		case strings.HasPrefix(name, "pg_advisory_lock"), strings.HasPrefix(name, "pg_try_advisory_lock"):
			found = true // the _xact_ variants end with the transaction
		case strings.HasPrefix(name, "dblink_connect"):
			found = true
		case name == "set_config":
			found = len(f.Args) != 3 || !isTrueConst(f.Args[2])
		}
		return !found
	})
	return found
}

// isTrueConst reports a literal true (set_config's is_local).
func isTrueConst(n *pg_query.Node) bool {
	if tc, ok := unwrap(n).(*pg_query.TypeCast); ok {
		n = tc.Arg
	}
	c, ok := unwrap(n).(*pg_query.A_Const)
	if !ok {
		return false
	}
	switch v := c.Val.(type) {
	case *pg_query.A_Const_Boolval:
		return v.Boolval.Boolval
	case *pg_query.A_Const_Sval:
		switch strings.ToLower(v.Sval.Sval) {
		case "t", "true", "on", "yes", "1":
			return true
		}
	}
	return false
}

// containsFold is strings.Contains ignoring ASCII case, without
// allocating.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// checkReadingSettings refuses set_config() calls that would change how
// the router reads the session's text: it lexes, parses and hashes SQL as
// UTF8 with standard conforming strings, and refuses SET of either; this
// closes the function-call route to the same settings. A value the
// router cannot see (a parameter, an expression) for either setting is
// refused too. (A setting named by a parameter is let through: the
// router cannot know it, and refusing every such call would refuse the
// common set_config($1, $2, true).) While a shape is planned, the
// literals are parameters: such statements are planned from their text.
func checkReadingSettings(ctx *Context, n *pg_query.Node, sql string) error {
	if !containsFold(sql, "set_config") {
		return nil
	}
	if ctx.shape != nil {
		return errShapeNeedsText
	}
	var err error
	inspect(unwrap(n), func(m proto.Message) bool {
		f, ok := m.(*pg_query.FuncCall)
		if !ok || err != nil {
			return err == nil
		}
		names := nameList(f.Funcname)
		if names[len(names)-1] != "set_config" || len(f.Args) < 2 {
			return true
		}
		name, known := constText(f.Args[0])
		value, valueKnown := constText(f.Args[1])
		switch {
		case !known:
		case !strings.EqualFold(name, "standard_conforming_strings") && !strings.EqualFold(name, "client_encoding"):
		case !valueKnown:
			err = pgerror.Unsupported("set_config() of %s with a value that is not a literal is not supported", strings.ToLower(name))
		case strings.EqualFold(name, "standard_conforming_strings") && !isOn(value):
			err = pgerror.Unsupported("standard_conforming_strings = off is not supported")
		case strings.EqualFold(name, "client_encoding") && !isUTF8Name(value):
			err = pgerror.Unsupported("client_encoding %s is not supported: sqlrouter speaks UTF8 only", value)
		}
		return err == nil
	})
	return err
}

// constText returns a string literal's text (under casts).
func constText(n *pg_query.Node) (string, bool) {
	for {
		tc, ok := unwrap(n).(*pg_query.TypeCast)
		if !ok {
			break
		}
		n = tc.Arg
	}
	c, ok := unwrap(n).(*pg_query.A_Const)
	if !ok {
		return "", false
	}
	s, ok := c.Val.(*pg_query.A_Const_Sval)
	if !ok {
		return "", false
	}
	return s.Sval.Sval, true
}

// errShapeNeedsText stops the planning of a shape whose plan a literal
// may change: the statement is planned from its text.
var errShapeNeedsText = errors.New("planned from its text")

package planner

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
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

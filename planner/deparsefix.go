package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// parenthesizeNullTests works around libpg_query's deparser, which prints
// "(NOT a) IS NULL" as "NOT a IS NULL" (and "(a AND b) IS NULL" as "a AND
// b IS NULL"), which PostgreSQL reads as NOT (a IS NULL). Such an argument
// is boolean, so a cast to boolean changes nothing, and the deparser keeps
// the parentheses of a cast's argument. It returns stmt, or a fixed copy.
func parenthesizeNullTests(stmt proto.Message) proto.Message {
	needs := func(nt *pg_query.NullTest) bool {
		_, isBool := unwrap(nt.Arg).(*pg_query.BoolExpr)
		return isBool
	}
	found := false
	inspect(stmt, func(m proto.Message) bool {
		if nt, ok := m.(*pg_query.NullTest); ok && needs(nt) {
			found = true
		}
		return !found
	})
	if !found {
		return stmt
	}
	stmt = proto.Clone(stmt)
	inspect(stmt, func(m proto.Message) bool {
		if nt, ok := m.(*pg_query.NullTest); ok && needs(nt) {
			nt.Arg = &pg_query.Node{Node: &pg_query.Node_TypeCast{TypeCast: &pg_query.TypeCast{Arg: nt.Arg,
				TypeName: &pg_query.TypeName{Names: []*pg_query.Node{str("pg_catalog"), str("bool")}, Typemod: -1}, Location: -1}}}
		}
		return true
	})
	return stmt
}

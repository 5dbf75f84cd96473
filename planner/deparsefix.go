package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// parenthesizeNullTests works around libpg_query's deparser, which drops
// the parentheses around a low-precedence boolean operand: it prints
// "(NOT a) IS NULL" as "NOT a IS NULL", "x BETWEEN (a OR b) AND c" as
// "x BETWEEN a OR b AND c", "(a AND b) IN (true)" as "a AND b IN (true)",
// "(a OR b) LIKE 'x'" as "a OR b LIKE 'x'", and "(a IS NULL) IS NULL"
// without its parentheses, each of which PostgreSQL reads differently.
// Such an operand (AND, OR, NOT, IS [NOT] NULL, IS [NOT] TRUE ...) is
// boolean, so a cast to boolean changes nothing, and the deparser keeps
// the parentheses of a cast's argument. It returns stmt, or a fixed copy.
func parenthesizeNullTests(stmt proto.Message) proto.Message {
	found := false
	inspect(stmt, func(m proto.Message) bool {
		forEachBoolOperand(m, func(*pg_query.Node) { found = true })
		return !found
	})
	if !found {
		return stmt
	}
	stmt = proto.Clone(stmt)
	inspect(stmt, func(m proto.Message) bool {
		forEachBoolOperand(m, func(n *pg_query.Node) {
			arg := &pg_query.Node{Node: n.Node}
			n.Node = &pg_query.Node_TypeCast{TypeCast: &pg_query.TypeCast{Arg: arg,
				TypeName: &pg_query.TypeName{Names: []*pg_query.Node{str("pg_catalog"), str("bool")}, Typemod: -1}, Location: -1}}
		})
		return true
	})
	return stmt
}

// forEachBoolOperand calls fn with each operand of m (a null test, a
// boolean test or an operator expression) that the deparser would print
// without its parentheses.
func forEachBoolOperand(m proto.Message, fn func(*pg_query.Node)) {
	check := func(n *pg_query.Node) {
		switch unwrap(n).(type) {
		case *pg_query.BoolExpr, *pg_query.NullTest, *pg_query.BooleanTest:
			fn(n)
		}
	}
	switch e := m.(type) {
	case *pg_query.NullTest:
		check(e.Arg)
	case *pg_query.BooleanTest:
		check(e.Arg)
	case *pg_query.A_Expr:
		if e.Lexpr != nil {
			check(e.Lexpr)
		}
		if e.Rexpr == nil {
			return
		}
		if l, ok := e.Rexpr.Node.(*pg_query.Node_List); ok {
			for _, item := range l.List.Items {
				check(item)
			}
			return
		}
		check(e.Rexpr)
	}
}

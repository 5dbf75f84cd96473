package planner

import (
	"strconv"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// constScratch is reusable memory for a literal's constant node, so that
// evaluating literals with the planner's own rules (constKey) allocates
// nothing. A normalizer owns one; the node is valid until the next
// constOf.
type constScratch struct {
	c    pg_query.A_Const
	ival pg_query.A_Const_Ival
	i    pg_query.Integer
	fval pg_query.A_Const_Fval
	f    pg_query.Float
	sval pg_query.A_Const_Sval
	s    pg_query.String
	bval pg_query.A_Const_Bsval
	b    pg_query.BitString
}

// constOf is the constant PostgreSQL's parser makes of a literal: an
// integer for an int4 literal (with its sign folded in), the text of any
// other number, the value of a string, the b- or x-prefixed digits of a
// bit string.
func (n *normalizer) constOf(l *literal) *pg_query.A_Const {
	k := &n.consts
	k.c.Isnull, k.c.Location = false, int32(l.start)
	text := n.sql[l.start:l.end]
	switch l.class {
	case LiteralInteger:
		v, _ := strconv.ParseInt(text, 10, 32)
		k.i.Ival = int32(v)
		k.ival.Ival = &k.i
		k.c.Val = &k.ival
	case LiteralNumeric:
		k.f.Fval = text
		k.fval.Fval = &k.f
		k.c.Val = &k.fval
	case LiteralString:
		k.s.Sval = n.stringValue(l)
		k.sval.Sval = &k.s
		k.c.Val = &k.sval
	default:
		k.b.Bsval = n.stringValue(l)
		k.bval.Bsval = &k.b
		k.c.Val = &k.bval
	}
	return &k.c
}

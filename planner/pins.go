package planner

import (
	"math"
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// qualPins finds, in a condition that filters rows, the conjuncts that fix
// the distribution key of some of the candidate tables to a set of values:
// key = v, v = key, key IN (...), key = ANY(ARRAY[...]), and ORs of those
// on one table. A table without such a conjunct is absent from the result.
func (a *analysis) qualPins(qual *pg_query.Node, cands []*relRef) map[*relRef]*Pin {
	if qual == nil || len(cands) == 0 {
		return nil
	}
	switch x := unwrap(qual).(type) {
	case *pg_query.BoolExpr:
		switch x.Boolop {
		case pg_query.BoolExprType_AND_EXPR:
			out := map[*relRef]*Pin{}
			for _, arg := range x.Args {
				for r, p := range a.qualPins(arg, cands) {
					if cur, ok := out[r]; ok {
						out[r] = andPins(cur, p)
					} else {
						out[r] = p
					}
				}
			}
			return out
		case pg_query.BoolExprType_OR_EXPR:
			// Every branch must fix the same table; the values add up.
			var out map[*relRef]*Pin
			for i, arg := range x.Args {
				ps := a.qualPins(arg, cands)
				if i == 0 {
					out = ps
					continue
				}
				merged := map[*relRef]*Pin{}
				for r, p := range out {
					if q, ok := ps[r]; ok {
						merged[r] = &Pin{Table: r.table, Values: append(append([]KeyExpr(nil), p.Values...), q.Values...),
							Ranges: append(append([]KeyRange(nil), p.Ranges...), q.Ranges...)}
					}
				}
				out = merged
			}
			return out
		}
	case *pg_query.A_Expr:
		return a.exprPins(x, cands)
	}
	return nil
}

func (a *analysis) exprPins(x *pg_query.A_Expr, cands []*relRef) map[*relRef]*Pin {
	if x.Kind == pg_query.A_Expr_Kind_AEXPR_BETWEEN {
		return a.rangePins(x, cands)
	}
	if !isEqualsOperator(x.Name) {
		return a.rangePins(x, cands)
	}
	switch x.Kind {
	case pg_query.A_Expr_Kind_AEXPR_OP:
		r, val := a.keyColumn(x.Lexpr, cands), x.Rexpr
		if r == nil {
			r, val = a.keyColumn(x.Rexpr, cands), x.Lexpr
		}
		if r == nil {
			return nil
		}
		return a.pinValues(r, []*pg_query.Node{val})
	case pg_query.A_Expr_Kind_AEXPR_IN:
		r := a.keyColumn(x.Lexpr, cands)
		list, ok := unwrap(x.Rexpr).(*pg_query.List)
		if r == nil || !ok {
			return nil
		}
		return a.pinValues(r, list.Items)
	case pg_query.A_Expr_Kind_AEXPR_OP_ANY:
		r := a.keyColumn(x.Lexpr, cands)
		if r == nil {
			return nil
		}
		switch arr := unwrap(x.Rexpr).(type) {
		case *pg_query.A_ArrayExpr:
			return a.pinValues(r, arr.Elements)
		case *pg_query.ParamRef:
			// key = ANY($1): the array's elements, at Bind. A literal's
			// placeholder stands for a constant, which pins nothing here.
			if a.ctx.shape.isLiteral(arr.Number) || !a.ctx.arrayParamUsable(int(arr.Number), r.table.Distribution.KeyType) {
				return nil
			}
			return map[*relRef]*Pin{r: {Table: r.table, Values: []KeyExpr{{Param: int(arr.Number), Array: true}}}}
		}
	}
	return nil
}

// pinValues makes a pin of r from value expressions; any value that is not
// a constant or parameter of a usable type leaves r unpinned.
func (a *analysis) pinValues(r *relRef, vals []*pg_query.Node) map[*relRef]*Pin {
	t := r.table.Distribution.KeyType
	p := &Pin{Table: r.table}
	for _, v := range vals {
		k, ok, err := a.keyValue(v, t)
		if err != nil {
			a.fail(err)
			return nil
		}
		if !ok {
			return nil
		}
		p.Values = append(p.Values, k)
	}
	return map[*relRef]*Pin{r: p}
}

func isEqualsOperator(name []*pg_query.Node) bool {
	parts := nameList(name)
	switch len(parts) {
	case 1:
		return parts[0] == "="
	case 2:
		return parts[0] == "pg_catalog" && parts[1] == "="
	}
	return false
}

// keyColumn returns the table whose distribution key the expression names,
// if it is a plain column reference that resolves to one of cands.
func (a *analysis) keyColumn(n *pg_query.Node, cands []*relRef) *relRef {
	cr, ok := unwrap(n).(*pg_query.ColumnRef)
	if !ok {
		return nil
	}
	var names []string
	for _, f := range cr.Fields {
		s, ok := unwrap(f).(*pg_query.String)
		if !ok {
			return nil // a.* and the like
		}
		names = append(names, s.Sval)
	}
	col := names[len(names)-1]
	var found *relRef
	switch len(names) {
	case 1:
		// An unqualified name: PostgreSQL would refuse it as ambiguous if
		// two tables in scope had it, so a single table whose key has this
		// name is the one it means.
		for _, r := range cands {
			if r.distributed() && r.table.Key == col {
				if found != nil {
					return nil
				}
				found = r
			}
		}
	case 2, 3:
		for _, r := range cands {
			if r.hidden || !r.distributed() || r.table.Key != col {
				continue
			}
			if names[len(names)-2] != r.refName {
				continue
			}
			if len(names) == 3 && (r.refName != r.name || names[0] != r.schemaOrDefault()) {
				continue
			}
			if found != nil {
				return nil
			}
			found = r
		}
	}
	return found
}

func (r *relRef) schemaOrDefault() string {
	if r.schema != "" {
		return r.schema
	}
	return r.table.Schema
}

// keyValue interprets an expression compared with a key of type t. ok is
// false when it is not a value the router can place (a column, a function
// call, a parameter or cast of a type whose comparison is not the key
// type's own equality).
func (a *analysis) keyValue(n *pg_query.Node, t shardmap.KeyType) (KeyExpr, bool, error) {
	switch x := unwrap(n).(type) {
	case *pg_query.A_Const:
		return constKey(x, t, t)
	case *pg_query.ParamRef:
		a.ctx.shape.note(x.Number, t, t)
		if !a.ctx.paramUsable(int(x.Number), t) {
			return KeyExpr{}, false, nil
		}
		return KeyExpr{Param: int(x.Number)}, true, nil
	case *pg_query.TypeCast:
		ct, ok := castKeyType(x.TypeName, t)
		if !ok {
			return KeyExpr{}, false, nil
		}
		switch arg := unwrap(x.Arg).(type) {
		case *pg_query.A_Const:
			return constKey(arg, ct, t)
		case *pg_query.ParamRef:
			a.ctx.shape.note(arg.Number, ct, t)
			// The cast fixes the parameter's type when the client left it
			// open; a declared type must itself be usable.
			if int(arg.Number) <= len(a.ctx.ParamOIDs) && a.ctx.ParamOIDs[arg.Number-1] != 0 && !a.ctx.paramUsable(int(arg.Number), ct) {
				return KeyExpr{}, false, nil
			}
			return KeyExpr{Param: int(arg.Number)}, true, nil
		}
	}
	return KeyExpr{}, false, nil
}

// constKey reads a constant written as type lit (the key type, or the type
// it is cast to) for a key of type t.
func constKey(c *pg_query.A_Const, lit, t shardmap.KeyType) (KeyExpr, bool, error) {
	if c.Isnull {
		return KeyExpr{Null: true}, true, nil
	}
	switch v := c.Val.(type) {
	case *pg_query.A_Const_Ival:
		// An integer literal keeps its own type: a value outside the key's
		// range is compared across types and matches nothing.
		switch {
		case t.Kind() == shardmap.KindInt:
			if _, ok := intKey(lit, int64(v.Ival.Ival)); !ok {
				return KeyExpr{}, false, nil
			}
			k, ok := intKey(t, int64(v.Ival.Ival))
			return KeyExpr{Const: k}, ok, nil
		case t == shardmap.KeyTypeText && lit == shardmap.KeyTypeText:
			return KeyExpr{Const: shardmap.TextKey(strconv.FormatInt(int64(v.Ival.Ival), 10))}, true, nil
		}
		return KeyExpr{}, false, nil
	case *pg_query.A_Const_Fval:
		// Integers beyond int4 arrive as Fval; anything with a point or
		// exponent is numeric, compared as numeric: not placed.
		if t.Kind() != shardmap.KindInt || strings.ContainsAny(v.Fval.Fval, ".eE") {
			return KeyExpr{}, false, nil
		}
		k, err := shardmap.ParseKey(lit, v.Fval.Fval)
		if err != nil {
			return KeyExpr{}, false, nil // out of range: compared as numeric, matches nothing
		}
		return KeyExpr{Const: k}, true, nil
	case *pg_query.A_Const_Sval:
		// An untyped literal takes the key's type (or its cast's), and
		// PostgreSQL rejects it when it does not parse as that type.
		k, err := parseKeyText(lit, v.Sval.Sval)
		if err != nil {
			return KeyExpr{}, false, err
		}
		if lit != t {
			if k, err = shardmap.ParseKey(t, v.Sval.Sval); err != nil {
				return KeyExpr{}, false, nil // e.g. '70000'::int4 against a smallint key
			}
		}
		return KeyExpr{Const: k}, true, nil
	}
	return KeyExpr{}, false, nil
}

// intKey is the key ParseKey reads from v's decimal text, without making
// the text: ok is false when v is out of t's range (or t is no integer
// type).
func intKey(t shardmap.KeyType, v int64) (shardmap.Key, bool) {
	switch t {
	case shardmap.KeyTypeSmallint:
		if v < math.MinInt16 || v > math.MaxInt16 {
			return shardmap.Key{}, false
		}
	case shardmap.KeyTypeInt:
		if v < math.MinInt32 || v > math.MaxInt32 {
			return shardmap.Key{}, false
		}
	case shardmap.KeyTypeBigint:
	default:
		return shardmap.Key{}, false
	}
	return shardmap.IntKey(v), true
}

// castKeyType maps the type of a cast to the key type whose equality the
// comparison then uses: integer casts for integer keys, text and
// unconstrained varchar for text keys, uuid for uuid keys.
func castKeyType(tn *pg_query.TypeName, t shardmap.KeyType) (shardmap.KeyType, bool) {
	if tn == nil || len(tn.ArrayBounds) > 0 || tn.Setof {
		return "", false
	}
	names := nameList(tn.Names)
	name := names[len(names)-1]
	if len(names) == 2 && names[0] != "pg_catalog" {
		return "", false
	}
	var ct shardmap.KeyType
	switch name {
	case "int2", "smallint":
		ct = shardmap.KeyTypeSmallint
	case "int4", "integer", "int":
		ct = shardmap.KeyTypeInt
	case "int8", "bigint":
		ct = shardmap.KeyTypeBigint
	case "text":
		ct = shardmap.KeyTypeText
	case "varchar":
		if len(tn.Typmods) > 0 {
			return "", false // a length limit may truncate the value
		}
		ct = shardmap.KeyTypeText
	case "uuid":
		ct = shardmap.KeyTypeUUID
	default:
		return "", false
	}
	if ct.Kind() != t.Kind() {
		return "", false
	}
	return ct, true
}

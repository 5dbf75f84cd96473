package planner

import (
	"slices"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// Planning by shape. The first text of a shape is parsed; each of its
// literals must be exactly one constant of the parse tree, at the
// literal's position and with the literal's value, or the shape is not
// used. The constants are then replaced by placeholder parameters and the
// statement is planned again: that plan, kept per shape, is a template
// from which the plan of any later text of the shape is made without
// parsing, from that text's literal values.
//
// Only plans that run a statement's text unchanged on one cluster are
// kept (a Route, or an INSERT whose rows all land on one cluster), and
// only for texts of one SELECT, INSERT, UPDATE or DELETE: everything else
// (several statements, utility statements, plans that rewrite the
// statement or read a literal's value, such as LIMIT or GROUP BY 1 in a
// merge across clusters) is planned from its text as before. A template
// is used for a text only when the plan it gives is the very plan the
// text would get: every literal the planner read as a distribution key
// must be a constant the planner places (see constKey), and the keys must
// land on exactly one cluster.

// shapeUses records, while a shape is planned, which placeholders the
// planner read as distribution-key values.
type shapeUses struct {
	first int32
	uses  []keyUse
}

// keyUse is one placeholder read as a key value: a literal written as type
// lit (the key's type, or the type it is cast to) compared with a key of
// type key.
type keyUse struct {
	param    int32
	lit, key shardmap.KeyType
}

// isLiteral reports whether parameter n stands for a literal.
func (s *shapeUses) isLiteral(n int32) bool { return s != nil && n >= s.first }

// note records that parameter n was read as a key value.
func (s *shapeUses) note(n int32, lit, key shardmap.KeyType) {
	if !s.isLiteral(n) {
		return
	}
	if u := (keyUse{n, lit, key}); !slices.Contains(s.uses, u) {
		s.uses = append(s.uses, u)
	}
}

// shapePlan is what the shape cache keeps for one shape.
type shapePlan struct {
	// key is the whole cache key (entries are found by its hash).
	key string
	// tmpl is nil for shapes planned from their text.
	tmpl *routeTemplate
}

// routeTemplate is the plan of a shape whose statement runs unchanged on
// one cluster.
type routeTemplate struct {
	first int32
	uses  []keyUse
	// pins are the key conditions with placeholders; nil when the target
	// depends on no literal, and target is then the whole target.
	pins   []Pin
	target Target
	write  bool
	// move is an UPDATE's assignment of a literal to the key: the new key
	// must belong on the cluster the row is on, as placeKeyMove checks.
	move *KeyMove
	// readOnly, tempObjects and sessionState are as in Route and
	// Statement.
	readOnly, tempObjects, sessionState bool
	// broadcast, for a write to reference tables, is the shape's plan:
	// every copy gets the statement's own text, whatever its literals.
	broadcast *Broadcast
	// The statement is text[start:len(text)-tail]; charOffset is the
	// number of characters before it. Only blanks and comments lie
	// outside it, so these are the same for every text of the shape.
	start, tail, charOffset int
}

// buildTemplate plans the shape of sql, whose parse tree is tree, and
// returns nil when the shape's plans cannot be made from a template. The
// tree is changed while planning and restored before returning.
func buildTemplate(ctx *Context, sql string, n *normalizer, tree *pg_query.ParseResult) *routeTemplate {
	if len(tree.Stmts) != 1 {
		return nil
	}
	raw := tree.Stmts[0]
	switch unwrap(raw.Stmt).(type) {
	case *pg_query.SelectStmt, *pg_query.InsertStmt, *pg_query.UpdateStmt, *pg_query.DeleteStmt:
	default:
		return nil
	}
	consts := n.matchConsts(tree)
	if consts == nil {
		return nil
	}
	first := int32(n.maxParam + 1)
	saved := make([]*pg_query.A_Const, len(consts))
	for i, node := range consts {
		saved[i] = node.GetAConst()
		node.Node = &pg_query.Node_ParamRef{ParamRef: &pg_query.ParamRef{Number: first + int32(i), Location: saved[i].Location}}
	}
	defer func() {
		for i, node := range consts {
			node.Node = &pg_query.Node_AConst{AConst: saved[i]}
		}
	}()
	uses := &shapeUses{first: first}
	sctx := *ctx
	sctx.shape, sctx.version = uses, tree.Version
	text, offset := stmtText(sql, raw)
	plan, err := planStatement(&sctx, raw, text)
	if err != nil {
		return nil
	}
	if _, ok := RewrittenSQL(plan); ok {
		// The shards run the planner's rewrite (a vertical table's
		// groups), not the client's text: it is planned from each text.
		return nil
	}
	t := &routeTemplate{first: first, uses: uses.uses, start: offset, tail: len(sql) - offset - len(text),
		charOffset: utf8.RuneCountInString(sql[:offset]), tempObjects: createsTemp(raw.Stmt),
		sessionState: holdsSessionState(raw.Stmt, text)}
	if t.sessionState && !t.tempObjects {
		// A literal may decide it (set_config's is_local): such rare
		// statements are planned from their text.
		return nil
	}
	switch p := plan.(type) {
	case *Route:
		if p.CopyIn || p.DeclareCursor != "" || p.Spread != nil || !pointPins(p.Target.params, first) {
			return nil
		}
		if p.KeyMove != nil && (len(p.Target.Pins) == 0 || p.KeyMove.Value.Param > 0 && int32(p.KeyMove.Value.Param) < first) {
			return nil
		}
		t.write, t.readOnly, t.move = p.Write, p.ReadOnly, p.KeyMove
		if len(p.Target.Pins) == 0 {
			t.target = p.Target
		} else {
			t.pins = p.Target.Pins
		}
	case *Broadcast:
		// A write to reference tables goes to every copy as written; its
		// literals decide nothing (the plan names no key).
		if !p.DataWrite || p.rewritten || p.SQL != text || p.Coordinator || p.Command != "" || p.Sequences != nil {
			return nil
		}
		t.broadcast = p
	case *SplitInsert:
		// Rows that all land on one cluster make a Route, as for a text
		// whose keys are all constants (splitOrRoute).
		t.pins = []Pin{{Table: p.Table, Values: p.Keys}}
		if !pointPins(t.pins, first) {
			return nil
		}
		t.write = true
	default:
		return nil
	}
	return t
}

// pointPins reports whether every parameter of the pins is a literal's
// placeholder compared for equality: ranges (whose constant bounds the
// planner intersects) and arrays are left to planning from the text.
func pointPins(pins []Pin, first int32) bool {
	for _, p := range pins {
		if len(p.Ranges) > 0 {
			return false
		}
		for _, v := range p.Values {
			if v.Array || v.Param > 0 && int32(v.Param) < first {
				return false
			}
		}
	}
	return true
}

// matchConsts finds, for each literal in order, the constant of the parse
// tree it became, and returns their Node wrappers; nil when a literal is
// not exactly one constant with its value (a literal the grammar folds
// into something else, such as "- 5" or FLOAT(10)).
func (n *normalizer) matchConsts(tree *pg_query.ParseResult) []*pg_query.Node {
	out := make([]*pg_query.Node, len(n.lits))
	ok := true
	walkNodes(tree, func(node *pg_query.Node) {
		c := node.GetAConst()
		if c == nil || c.Location < 0 {
			return
		}
		i, found := slices.BinarySearchFunc(n.lits, int(c.Location), func(l literal, loc int) int { return l.start - loc })
		if !found {
			return
		}
		if out[i] != nil || !sameConst(c, n.constOf(&n.lits[i])) {
			ok = false // two constants at one place, or another value
		}
		out[i] = node
	})
	if !ok || slices.Contains(out, nil) {
		return nil
	}
	return out
}

// sameConst reports whether two constants are the same value.
func sameConst(a, b *pg_query.A_Const) bool {
	if a.GetIsnull() || b.GetIsnull() {
		return false
	}
	switch x := a.GetVal().(type) {
	case *pg_query.A_Const_Ival:
		y, ok := b.GetVal().(*pg_query.A_Const_Ival)
		return ok && x.Ival.GetIval() == y.Ival.GetIval()
	case *pg_query.A_Const_Fval:
		y, ok := b.GetVal().(*pg_query.A_Const_Fval)
		return ok && x.Fval.GetFval() == y.Fval.GetFval()
	case *pg_query.A_Const_Sval:
		y, ok := b.GetVal().(*pg_query.A_Const_Sval)
		return ok && x.Sval.GetSval() == y.Sval.GetSval()
	case *pg_query.A_Const_Bsval:
		y, ok := b.GetVal().(*pg_query.A_Const_Bsval)
		return ok && x.Bsval.GetBsval() == y.Bsval.GetBsval()
	}
	return false
}

// instantiate makes the plan of sql, a text of the template's shape whose
// literals n holds, into q. It returns false when the template does not
// give the plan the text itself would get.
func (t *routeTemplate) instantiate(sql string, n *normalizer, q *Query) bool {
	if t.start > len(sql)-t.tail {
		return false
	}
	var keyBuf [4]KeyExpr
	keys := keyBuf[:0]
	for _, u := range t.uses {
		k, ok, err := constKey(n.constOf(&n.lits[u.param-t.first]), u.lit, u.key)
		if err != nil || !ok || k.Null {
			return false
		}
		keys = append(keys, k)
	}
	text := sql[t.start : len(sql)-t.tail]
	if t.broadcast != nil {
		q.bcast = *t.broadcast
		q.bcast.SQL = text
		q.Stmts = append(q.Stmts[:0], Statement{SQL: text, CharOffset: t.charOffset, Consistency: consistencyHint(text),
			TempObjects: t.tempObjects, SessionState: t.sessionState, Plan: &q.bcast})
		return true
	}
	r := &q.route
	*r = Route{SQL: text, Target: t.target, Write: t.write, ReadOnly: t.readOnly}
	if t.pins != nil {
		target, ok := t.resolve(keys, q)
		if !ok {
			return false
		}
		r.Target = target
	}
	if t.move != nil && !t.keepsCluster(r.Target.Static[0], keys) {
		return false
	}
	q.Stmts = append(q.Stmts[:0], Statement{SQL: text, CharOffset: t.charOffset, Consistency: consistencyHint(text),
		TempObjects: t.tempObjects, SessionState: t.sessionState, Plan: r})
	return true
}

// keepsCluster reports whether the key the UPDATE assigns belongs on
// cluster, where the text's keys put the row (placeKeyMove's check).
// When it does not, the text's own plan is the error.
func (t *routeTemplate) keepsCluster(cluster string, keys []KeyExpr) bool {
	v := t.move.Value
	if v.Param > 0 {
		i := t.useOf(v.Param, t.move.Table.Distribution.KeyType)
		if i < 0 {
			return false
		}
		v = keys[i]
	}
	m := KeyMove{Table: t.move.Table, Value: v}
	return m.check(cluster, Params{}) == nil
}

// useOf is the index of the use of parameter param as a key of type key.
func (t *routeTemplate) useOf(param int, key shardmap.KeyType) int {
	return slices.IndexFunc(t.uses, func(u keyUse) bool { return u.param == int32(param) && u.key == key })
}

// resolve builds the target the text's constant keys give, as routeFor
// and splitOrRoute build it, in q's memory. It fails unless every key has
// a cluster and all of them are one cluster.
func (t *routeTemplate) resolve(keys []KeyExpr, q *Query) (Target, bool) {
	target := Target{Static: q.static[:0], Pins: q.pins[:0]}
	vals := q.vals[:0]
	for _, p := range t.pins {
		d := p.Table.Distribution
		from := len(vals)
		for _, v := range p.Values {
			if v.Param > 0 {
				i := t.useOf(v.Param, d.KeyType)
				if i < 0 {
					return Target{}, false
				}
				v = keys[i]
				if _, err := d.ClusterFor(v.Const); err != nil {
					return Target{}, false
				}
			}
			vals = append(vals, v)
		}
		target.addPin(Pin{Table: p.Table, Values: vals[from:len(vals):len(vals)]})
	}
	target.finish()
	if len(target.Static) != 1 {
		return Target{}, false
	}
	target.Static = target.Static[:1:1]
	target.Pins = target.Pins[:len(target.Pins):len(target.Pins)]
	return target, true
}

package planner

import (
	"encoding/binary"
	"hash/maphash"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// Query holds the statements PlanQueryInto planned for one Query message,
// with the memory their plans use. A session keeps one and passes it to
// every PlanQueryInto, so that a statement served from the cache costs no
// allocation. A Query must not be copied.
type Query struct {
	// Stmts are the planned statements. They and their plans are valid
	// until the next PlanQueryInto with this Query.
	Stmts []Statement

	one    [1]Statement
	route  Route
	bcast  Broadcast
	pins   [1]Pin
	vals   [2]KeyExpr
	static [1]string
}

// PlanQueryInto is PlanQuery with the result in q, whose memory it
// reuses: the statements and plans it leaves in q.Stmts are valid until
// the next call with q.
func (p *Planner) PlanQueryInto(ctx Context, sql string, q *Query) error {
	q.reset()
	if e, ok := p.cached(textKey(ctx, sql)); ok {
		q.Stmts = append(q.Stmts, e.stmts...)
		return e.err
	}
	return p.plan(ctx, sql, q)
}

func (q *Query) reset() {
	if q.Stmts == nil {
		q.Stmts = q.one[:0]
	}
	q.Stmts = q.Stmts[:0]
}

// normalizers are reused between statements.
var normalizers = sync.Pool{New: func() any { return new(normalizer) }}

var shapeSeed = maphash.MakeSeed()

// plan plans a text the text cache does not hold into q: from its
// shape's template when there is one, else from the text, which it then
// caches.
func (p *Planner) plan(ctx Context, sql string, q *Query) error {
	n := normalizers.Get().(*normalizer)
	defer normalizers.Put(n)
	// A simple-protocol text with $n parameters fails in the server; it is
	// planned as it is, and so is a text without literals.
	if len(sql) <= maxCachedText && n.scan(sql) && len(n.lits) > 0 && n.maxParam == 0 {
		n.buildShape()
		key := n.cacheKey(ctx)
		h := maphash.Bytes(shapeSeed, key)
		sp, ok := p.shapes.get(h)
		if !ok || sp.key != string(key) {
			return p.planFirst(ctx, sql, n, h, q)
		}
		if sp.tmpl != nil && sp.tmpl.instantiate(sql, n, q) {
			p.counts.hits.Add(1)
			return nil
		}
	}
	return p.planText(ctx, sql, nil, q)
}

// cacheKey is what a shape's plan depends on: the shard map revision, the
// search_path, the shape and its literals' classes.
func (n *normalizer) cacheKey(ctx Context) []byte {
	b := binary.LittleEndian.AppendUint64(n.key[:0], uint64(ctx.Revision))
	b = append(b, ctx.SearchPath...)
	b = append(b, 0)
	b = append(b, n.shape...)
	b = append(b, 0)
	n.key = n.classes(b)
	return n.key
}

// planFirst plans the first text of a shape: it parses the text once,
// builds the shape's template from the tree, and plans the text from the
// template, or from the tree when the shape has none or the template does
// not fit this text.
func (p *Planner) planFirst(ctx Context, sql string, n *normalizer, h uint64, q *Query) error {
	p.counts.misses.Add(1)
	tree, err := parse(sql)
	if err != nil {
		p.shapes.put(h, &shapePlan{key: string(n.key)})
		p.remember(textKey(ctx, sql), nil, err)
		return err
	}
	tmpl := buildTemplate(&ctx, sql, n, tree)
	p.shapes.put(h, &shapePlan{key: string(n.key), tmpl: tmpl})
	if tmpl != nil && tmpl.instantiate(sql, n, q) {
		return nil
	}
	return p.planText(ctx, sql, tree, q)
}

// planText plans a text as it is (tree is its parse tree, or nil), caches
// the plan by text and puts it into q.
func (p *Planner) planText(ctx Context, sql string, tree *pg_query.ParseResult, q *Query) error {
	var stmts []Statement
	var err error
	if tree != nil {
		stmts, err = planTree(&ctx, sql, tree)
	} else {
		p.counts.misses.Add(1)
		stmts, err = parseAndPlan(&ctx, sql)
	}
	p.remember(textKey(ctx, sql), stmts, err)
	q.Stmts = append(q.Stmts[:0], stmts...)
	return err
}

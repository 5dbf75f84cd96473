package planner

import (
	"errors"
	"strings"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	pgparser "github.com/pganalyze/pg_query_go/v6/parser"
	"google.golang.org/protobuf/proto"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// Planner plans statements and caches the plans: by text, and for
// simple-protocol statements with literals by shape (shape.go). Its zero
// value is not usable; call New. It is safe for concurrent use.
type Planner struct {
	cache  *lru[cacheKey, cacheEntry]
	shapes *lru[uint64, *shapePlan]
	counts cacheCounters
}

// Options configure a Planner. The zero value is sane.
type Options struct {
	// CacheSize bounds the number of cached statement texts, and
	// separately the number of cached statement shapes (default 4096).
	CacheSize int
}

// New makes a planner.
func New(opts Options) *Planner {
	if opts.CacheSize <= 0 {
		opts.CacheSize = 4096
	}
	return &Planner{cache: newLRU[cacheKey, cacheEntry](opts.CacheSize), shapes: newLRU[uint64, *shapePlan](opts.CacheSize)}
}

// PlanQuery plans the text of a simple-protocol Query message: zero or more
// statements separated by semicolons. A syntax error anywhere fails the
// whole text, as in PostgreSQL. The statements are the caller's; see
// PlanQueryInto to plan into reused memory.
func (p *Planner) PlanQuery(ctx Context, sql string) ([]Statement, error) {
	if e, ok := p.cached(textKey(ctx, sql)); ok {
		return e.stmts, e.err
	}
	q := new(Query)
	q.reset()
	err := p.plan(ctx, sql, q)
	return q.Stmts, err
}

func textKey(ctx Context, sql string) cacheKey {
	return cacheKey{rev: ctx.Revision, searchPath: ctx.SearchPath, sql: sql}
}

// cached looks a text up in the text cache, counting a hit.
func (p *Planner) cached(k cacheKey) (cacheEntry, bool) {
	e, ok := p.cache.get(k)
	if ok {
		p.counts.hits.Add(1)
	}
	return e, ok
}

// remember caches the plan of a text.
func (p *Planner) remember(k cacheKey, stmts []Statement, err error) {
	if len(k.sql) <= maxCachedText {
		p.cache.put(k, cacheEntry{stmts: stmts, err: err})
	}
}

// PlanPrepared plans the text of a Parse message: at most one statement
// (none gives an Empty plan).
func (p *Planner) PlanPrepared(ctx Context, sql string) (Statement, error) {
	key := cacheKey{rev: ctx.Revision, searchPath: ctx.SearchPath, sql: sql, prepared: true}
	key.setOIDs(ctx.ParamOIDs)
	e, ok := p.cached(key)
	if !ok {
		e = p.planPrepared(ctx, key, sql)
	}
	if e.err != nil {
		return Statement{}, e.err
	}
	return e.stmts[0], nil
}

// planPrepared plans the text of a Parse message and caches the plan.
func (p *Planner) planPrepared(ctx Context, key cacheKey, sql string) cacheEntry {
	p.counts.misses.Add(1)
	stmts, err := parseAndPlan(&ctx, sql)
	if err == nil {
		switch len(stmts) {
		case 0:
			stmts = []Statement{{SQL: sql, Plan: &Empty{}}}
		case 1:
		default:
			err = pgerror.New(pgerror.SyntaxError, "cannot insert multiple commands into a prepared statement")
		}
	}
	p.remember(key, stmts, err)
	return cacheEntry{stmts: stmts, err: err}
}

// parseAndPlan plans every statement of a text.
func parseAndPlan(ctx *Context, sql string) ([]Statement, error) {
	tree, err := parse(sql)
	if err != nil {
		return nil, err
	}
	return planTree(ctx, sql, tree)
}

// planTree plans every statement of a parsed text.
func planTree(ctx *Context, sql string, tree *pg_query.ParseResult) ([]Statement, error) {
	ctx.version = tree.Version
	out := make([]Statement, 0, len(tree.Stmts))
	for _, raw := range tree.Stmts {
		text, offset := stmtText(sql, raw)
		plan, err := planStatement(ctx, raw, text)
		if err != nil {
			return nil, err
		}
		st := Statement{SQL: text, CharOffset: utf8.RuneCountInString(sql[:offset]), Plan: plan, Consistency: consistencyHint(text),
			TempObjects: createsTemp(raw.Stmt), SessionState: holdsSessionState(raw.Stmt, text)}
		if rewritten, ok := RewrittenSQL(plan); ok {
			st.SQL, st.Rewritten = rewritten, true
		}
		out = append(out, st)
	}
	// Every statement of a text is planned before any runs, with the
	// search_path of the moment: one that changes it must come last.
	for i, st := range out[:max(len(out)-1, 0)] {
		if changesSearchPath(st.Plan) {
			return nil, pgerror.Unsupported("a statement that changes search_path (statement %d) followed by other statements in one query string is not supported", i+1).
				WithHint("Send the SET as a query of its own.")
		}
	}
	return out, nil
}

// stmtText cuts one statement's text out of the message, without the
// leading blanks pg_query includes.
func stmtText(sql string, raw *pg_query.RawStmt) (string, int) {
	start := int(raw.StmtLocation)
	end := len(sql)
	if raw.StmtLen > 0 {
		end = start + int(raw.StmtLen)
	}
	if start < 0 || start > len(sql) || end > len(sql) || start > end {
		return sql, 0
	}
	text := sql[start:end]
	trimmed := strings.TrimLeft(text, " \t\r\n\f")
	return trimmed, start + len(text) - len(trimmed)
}

// parse parses a text as PostgreSQL's parser would, with the check of its
// analysis the router needs before planning: parameter numbers start at
// $1 (the lexer reads $0, the server refuses it).
func parse(sql string) (*pg_query.ParseResult, error) {
	tree, err := pg_query.Parse(sql)
	if err != nil {
		return nil, syntaxError(err)
	}
	if strings.Contains(sql, "$0") {
		for _, raw := range tree.Stmts {
			var bad *pg_query.ParamRef
			inspect(raw, func(m proto.Message) bool {
				if r, ok := m.(*pg_query.ParamRef); ok && r.Number < 1 {
					bad = r
				}
				return bad == nil
			})
			if bad != nil {
				return nil, pgerror.New(pgerror.UndefinedParameter, "there is no parameter $%d", bad.Number)
			}
		}
	}
	return tree, nil
}

func syntaxError(err error) error {
	var pe *pgparser.Error
	if errors.As(err, &pe) {
		e := pgerror.New(pgerror.SyntaxError, "%s", pe.Message)
		e.Position = int32(pe.Cursorpos)
		return e
	}
	return pgerror.New(pgerror.SyntaxError, "%s", err.Error())
}

func changesSearchPath(p Plan) bool {
	switch p := p.(type) {
	case *SessionSet:
		return p.Name == "search_path" || p.Name == "all"
	case *Discard:
		return p.All
	}
	return false
}

// consistencyHint finds a read consistency asked for in a comment of the
// statement: /* sqlrouter.read_consistency=eventual */ or the same after
// --.
func consistencyHint(sql string) string {
	const key = "sqlrouter.read_consistency"
	for rest := sql; ; {
		i := strings.Index(rest, key)
		if i < 0 {
			return ""
		}
		before := rest[:i]
		inComment := strings.LastIndex(before, "/*") > strings.LastIndex(before, "*/") ||
			strings.LastIndex(before, "--") > strings.LastIndex(before, "\n")
		rest = rest[i+len(key):]
		if !inComment {
			continue
		}
		v := strings.TrimLeft(rest, " \t=:'\"")
		end := strings.IndexFunc(v, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') })
		if end < 0 {
			end = len(v)
		}
		return strings.ToLower(v[:end])
	}
}

// createsTemp reports statements that create a temporary relation.
func createsTemp(n *pg_query.Node) bool {
	temp := func(rv *pg_query.RangeVar) bool {
		return rv != nil && (rv.Relpersistence == "t" || strings.EqualFold(rv.Schemaname, "pg_temp"))
	}
	switch s := unwrap(n).(type) {
	case *pg_query.CreateStmt:
		return temp(s.Relation)
	case *pg_query.CreateTableAsStmt:
		return s.Into != nil && temp(s.Into.Rel)
	case *pg_query.SelectStmt:
		return s.IntoClause != nil && temp(s.IntoClause.Rel)
	case *pg_query.CreateSeqStmt:
		return temp(s.Sequence)
	case *pg_query.ViewStmt:
		return temp(s.View)
	}
	return false
}

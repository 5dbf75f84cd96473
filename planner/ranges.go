package planner

import (
	"fmt"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// KeyRange is a condition that keeps keys between two bounds: key > lo,
// key <= hi, key BETWEEN lo AND hi. A nil bound is open.
type KeyRange struct {
	Lo, Hi         *KeyExpr
	LoIncl, HiIncl bool
}

func (r KeyRange) String() string {
	lo, hi := "(-inf", "+inf)"
	if r.Lo != nil {
		lo = "(" + r.Lo.String()
		if r.LoIncl {
			lo = "[" + r.Lo.String()
		}
	}
	if r.Hi != nil {
		hi = r.Hi.String() + ")"
		if r.HiIncl {
			hi = r.Hi.String() + "]"
		}
	}
	return lo + ", " + hi
}

func (r KeyRange) hasParams() bool {
	return (r.Lo != nil && r.Lo.Param > 0) || (r.Hi != nil && r.Hi.Param > 0)
}

// rangeOperators maps a comparison to the bound it sets when the key is
// on its left side.
var rangeOperators = map[string]struct {
	lower, incl bool
}{
	"<": {false, false}, "<=": {false, true}, ">": {true, false}, ">=": {true, true},
}

// flipped is the operator with its sides exchanged (5 < key is key > 5).
var flipped = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<="}

// rangeOrdered reports whether comparisons of keys of type t follow the
// order the shard map places ranges in: integers and uuids do; text
// compares by a collation, which may differ from the map's byte order.
func rangeOrdered(t shardmap.KeyType) bool {
	return t.Kind() == shardmap.KindInt || t.Kind() == shardmap.KindUUID
}

// rangePins reads key < v, key >= v, v > key ... and BETWEEN.
func (a *analysis) rangePins(x *pg_query.A_Expr, cands []*relRef) map[*relRef]*Pin {
	switch x.Kind {
	case pg_query.A_Expr_Kind_AEXPR_OP:
		names := nameList(x.Name)
		if len(names) != 1 {
			return nil
		}
		op := names[0]
		if _, ok := rangeOperators[op]; !ok {
			return nil
		}
		r, val := a.keyColumn(x.Lexpr, cands), x.Rexpr
		if r == nil {
			r, val, op = a.keyColumn(x.Rexpr, cands), x.Lexpr, flipped[op]
		}
		if r == nil || !rangeOrdered(r.table.Distribution.KeyType) {
			return nil
		}
		k, ok, err := a.keyValue(val, r.table.Distribution.KeyType)
		if err != nil {
			a.fail(err)
			return nil
		}
		if !ok || k.Null {
			return nil
		}
		o := rangeOperators[op]
		var kr KeyRange
		if o.lower {
			kr.Lo, kr.LoIncl = &k, o.incl
		} else {
			kr.Hi, kr.HiIncl = &k, o.incl
		}
		return map[*relRef]*Pin{r: {Table: r.table, Ranges: []KeyRange{kr}}}
	case pg_query.A_Expr_Kind_AEXPR_BETWEEN:
		r := a.keyColumn(x.Lexpr, cands)
		list, ok := unwrap(x.Rexpr).(*pg_query.List)
		if r == nil || !ok || len(list.Items) != 2 || !rangeOrdered(r.table.Distribution.KeyType) {
			return nil
		}
		t := r.table.Distribution.KeyType
		lo, ok1, err1 := a.keyValue(list.Items[0], t)
		hi, ok2, err2 := a.keyValue(list.Items[1], t)
		if err := firstErr(err1, err2); err != nil {
			a.fail(err)
			return nil
		}
		if !ok1 || !ok2 || lo.Null || hi.Null {
			return nil
		}
		return map[*relRef]*Pin{r: {Table: r.table, Ranges: []KeyRange{{Lo: &lo, Hi: &hi, LoIncl: true, HiIncl: true}}}}
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// andPins combines two pins of one table that must both hold: two
// constant ranges intersect; otherwise the more selective one is kept
// (either alone already holds every row that can match).
func andPins(p, q *Pin) *Pin {
	if len(p.Values) == 0 && len(q.Values) == 0 && len(p.Ranges) == 1 && len(q.Ranges) == 1 && !p.Ranges[0].hasParams() && !q.Ranges[0].hasParams() {
		a, b := p.Ranges[0], q.Ranges[0]
		r := a
		if b.Lo != nil && (r.Lo == nil || b.Lo.Const.Compare(r.Lo.Const) > 0 || (b.Lo.Const.Compare(r.Lo.Const) == 0 && !b.LoIncl)) {
			r.Lo, r.LoIncl = b.Lo, b.LoIncl
		}
		if b.Hi != nil && (r.Hi == nil || b.Hi.Const.Compare(r.Hi.Const) < 0 || (b.Hi.Const.Compare(r.Hi.Const) == 0 && !b.HiIncl)) {
			r.Hi, r.HiIncl = b.Hi, b.HiIncl
		}
		return &Pin{Table: p.Table, Ranges: []KeyRange{r}}
	}
	if pinSize(q) < pinSize(p) {
		return q
	}
	return p
}

// pinSize orders pins by selectivity: points before ranges.
func pinSize(p *Pin) int { return len(p.Values) + 1000*len(p.Ranges) }

// rangeClusters lists the clusters that can hold a key between lo and hi.
func rangeClusters(d *shardmap.Distribution, lo, hi *shardmap.Key, loIncl, hiIncl bool) []string {
	in := func(k shardmap.Key) bool {
		if lo != nil {
			if c := k.Compare(*lo); c < 0 || (c == 0 && !loIncl) {
				return false
			}
		}
		if hi != nil {
			if c := k.Compare(*hi); c > 0 || (c == 0 && !hiIncl) {
				return false
			}
		}
		return true
	}
	var out []string
	switch d.Type {
	case shardmap.DistRange:
		for _, r := range d.Ranges {
			// [From, To) meets the interval when it starts at or below hi
			// and ends above lo.
			startsLow := hi == nil || r.From == nil || r.From.Compare(*hi) < 0 || (r.From.Compare(*hi) == 0 && hiIncl)
			endsHigh := lo == nil || r.To == nil || r.To.Compare(*lo) > 0
			if startsLow && endsHigh {
				out = append(out, r.Cluster)
			}
		}
	case shardmap.DistList:
		for _, l := range d.Lists {
			for _, v := range l.Values {
				if in(v) {
					out = append(out, l.Cluster)
					break
				}
			}
		}
		if d.Default != "" {
			out = append(out, d.Default)
		}
	default:
		out = append(out, d.Clusters()...)
	}
	return out
}

// resolveRange evaluates a range for one execution.
func resolveRange(d *shardmap.Distribution, r KeyRange, p Params) ([]string, error) {
	var lo, hi *shardmap.Key
	for _, b := range []struct {
		e   *KeyExpr
		dst **shardmap.Key
	}{{r.Lo, &lo}, {r.Hi, &hi}} {
		if b.e == nil {
			continue
		}
		k, ok, err := b.e.value(d.KeyType, p)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, nil // compared with NULL: no row
		}
		*b.dst = &k
	}
	return rangeClusters(d, lo, hi, r.LoIncl, r.HiIncl), nil
}

var _ = fmt.Sprint

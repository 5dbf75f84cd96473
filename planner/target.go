package planner

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// Pin says that the rows of one table a statement can see all have their
// distribution key among Values.
type Pin struct {
	Table  *shardmap.Table
	Values []KeyExpr
	// Ranges are intervals of keys (range conditions), in addition to
	// Values.
	Ranges []KeyRange
}

func (p Pin) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s.%s", tableName(p.Table), p.Table.Key)
	if len(p.Ranges) > 0 {
		var parts []string
		for _, v := range p.Values {
			parts = append(parts, v.String())
		}
		for _, r := range p.Ranges {
			parts = append(parts, r.String())
		}
		b.WriteString(" in " + strings.Join(parts, " or "))
		return b.String()
	}
	if len(p.Values) == 1 {
		fmt.Fprintf(&b, " = %s", p.Values[0])
		return b.String()
	}
	b.WriteString(" IN (")
	for i, v := range p.Values {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.String())
	}
	b.WriteString(")")
	return b.String()
}

func (p Pin) hasParams() bool {
	for _, v := range p.Values {
		if v.Param > 0 {
			return true
		}
	}
	return false
}

// Target is the set of clusters a statement runs on, partly known when
// planning (Static) and partly at Bind (Pins with parameters).
type Target struct {
	// Static are clusters the statement needs whatever the parameters.
	Static []string
	// Pins are the key conditions that chose the clusters (for EXPLAIN).
	Pins []Pin
	// params are the pins' parameter values, resolved at Bind.
	params []Pin
	// AnyOf, when Static and Pins are empty, lists clusters any one of which
	// can run the statement (reads of reference tables only).
	AnyOf []string
	// Fallback runs the statement when every pin turned out unsatisfiable
	// (e.g. key = NULL): any cluster holding the tables gives the same,
	// empty, answer.
	Fallback string
}

// Resolve returns the clusters for one execution, sorted.
func (t *Target) Resolve(p Params) ([]string, error) {
	return t.resolve(nil, p)
}

// resolve appends the clusters for one execution to dst[:0].
func (t *Target) resolve(dst []string, p Params) ([]string, error) {
	out := append(dst[:0], t.Static...)
	for _, pin := range t.params {
		d := pin.Table.Distribution
		for _, r := range pin.Ranges {
			cs, err := resolveRange(d, r, p)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
		for _, v := range pin.Values {
			var one [1]shardmap.Key
			keys := one[:0]
			if v.Array {
				var err error
				if keys, err = v.values(d.KeyType, p); err != nil {
					return nil, err
				}
			} else if key, ok, err := v.value(d.KeyType, p); err != nil {
				return nil, err
			} else if ok {
				keys = append(keys, key)
			}
			for _, key := range keys {
				c, err := d.ClusterFor(key)
				if errors.Is(err, shardmap.ErrNoCluster) {
					continue // no row can have this key
				} else if err != nil {
					return nil, err
				}
				out = append(out, c)
			}
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		if len(t.AnyOf) > 0 {
			return t.AnyOf[:1], nil
		}
		if t.Fallback != "" {
			return []string{t.Fallback}, nil
		}
	}
	return out, nil
}

// ResolveOne returns the single cluster of one execution, or a 0A000 error
// naming the clusters when the statement would need several.
func (t *Target) ResolveOne(p Params) (string, error) {
	var buf [4]string
	cs, err := t.resolve(buf[:0], p)
	if err != nil {
		return "", err
	}
	switch len(cs) {
	case 1:
		return cs[0], nil
	case 0:
		return "", pgerror.New(pgerror.InternalError, "statement resolved to no cluster")
	}
	return "", severalClustersError(cs)
}

func severalClustersError(clusters []string) error {
	return pgerror.Unsupported("statement needs rows from several clusters (%s); statements spanning clusters are not supported yet", strings.Join(clusters, ", ")).
		WithHint("Add a condition that fixes the distribution key to one value, such as key = constant.")
}

// Deferred reports whether the target depends on parameters.
func (t *Target) Deferred() bool { return len(t.params) > 0 }

// addPin records a pin: constant values choose clusters now, parameters at
// Bind. A constant with no cluster (a list value nobody claims, a key in a
// gap between ranges) cannot match any row and chooses nothing.
func (t *Target) addPin(p Pin) {
	for _, q := range t.Pins {
		if q.String() == p.String() {
			return // the same condition again (a rewrite repeats it)
		}
	}
	t.Pins = append(t.Pins, p)
	d := p.Table.Distribution
	var params []KeyExpr
	var paramRanges []KeyRange
	for _, r := range p.Ranges {
		if r.hasParams() {
			paramRanges = append(paramRanges, r)
			continue
		}
		var lo, hi *shardmap.Key
		if r.Lo != nil {
			lo = &r.Lo.Const
		}
		if r.Hi != nil {
			hi = &r.Hi.Const
		}
		t.Static = append(t.Static, rangeClusters(d, lo, hi, r.LoIncl, r.HiIncl)...)
	}
	for _, v := range p.Values {
		if v.Param > 0 {
			params = append(params, v)
			continue
		}
		if v.Null {
			continue
		}
		if c, err := d.ClusterFor(v.Const); err == nil {
			t.Static = append(t.Static, c)
		}
	}
	if len(params) > 0 || len(paramRanges) > 0 {
		t.params = append(t.params, Pin{Table: p.Table, Values: params, Ranges: paramRanges})
	}
	if t.Fallback == "" {
		t.Fallback = d.Clusters()[0]
	}
}

// addStatic adds clusters the statement needs whatever the parameters.
func (t *Target) addStatic(clusters ...string) { t.Static = append(t.Static, clusters...) }

// finish sorts and dedups the static clusters.
func (t *Target) finish() {
	slices.Sort(t.Static)
	t.Static = slices.Compact(t.Static)
}

// String prints the clusters and the conditions that chose them.
func (t *Target) String() string {
	var b strings.Builder
	switch {
	case len(t.Static) > 0 || len(t.params) > 0:
		b.WriteString(strings.Join(t.Static, ", "))
		if len(t.params) > 0 {
			if len(t.Static) > 0 {
				b.WriteString(" + ")
			}
			b.WriteString("chosen at bind")
		}
	case len(t.AnyOf) > 0:
		b.WriteString("any of " + strings.Join(t.AnyOf, ", "))
	case t.Fallback != "":
		b.WriteString(t.Fallback + " (no row can match)")
	}
	for i, p := range t.Pins {
		if i == 0 {
			b.WriteString(" by ")
		} else {
			b.WriteString(" and ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

func tableName(t *shardmap.Table) string {
	if t.Schema == "" || t.Schema == "public" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

package shardmap

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// hashShards reads `shards` of a hash distribution, in the short form
// (cluster names, split evenly) or the long form ({cluster, hash_from,
// hash_to} items that must tile the hash space exactly).
func (w *walker) hashShards(m *Map, d *Distribution, f field) {
	items, ok := w.nonEmptyList(f)
	if !ok {
		return
	}
	first := w.node(items[0])
	if first != nil && first.Kind == yaml.ScalarNode {
		w.shortHashShards(m, d, f, items)
	} else {
		w.longHashShards(m, d, f, items)
	}
}

const mixedForms = "mixes the short form (cluster names) and the long form ({cluster, hash_from, hash_to}); use one"

func (w *walker) shortHashShards(m *Map, d *Distribution, f field, items []*yaml.Node) {
	names := make([]string, 0, len(items))
	good := true
	for i, it := range items {
		p := indexPath(f.path, i)
		if n := w.node(it); n != nil && n.Kind != yaml.ScalarNode {
			w.addAt(n, p, mixedForms)
			good = false
			continue
		}
		c, ok := w.clusterRef(m, it, p)
		if !ok {
			good = false
			continue
		}
		names = append(names, c)
		d.addCluster(c)
	}
	if good {
		d.HashRanges = EvenHashRanges(names)
		d.HashShortForm = true
	}
}

// placedHashRange is a parsed long-form item with its document position.
type placedHashRange struct {
	HashRange
	index int
	node  *yaml.Node
}

func (w *walker) longHashShards(m *Map, d *Distribution, f field, items []*yaml.Node) {
	var ranges []placedHashRange
	good := true
	for i, it := range items {
		p := indexPath(f.path, i)
		if n := w.node(it); n != nil && n.Kind == yaml.ScalarNode {
			w.addAt(n, p, mixedForms)
			good = false
			continue
		}
		obj, ok := w.object(it, p, hashRangeFields...)
		if !ok {
			good = false
			continue
		}
		r := placedHashRange{HashRange: HashRange{Min: math.MinInt64, Max: math.MaxInt64}, index: i, node: w.node(it)}
		if cf, ok := obj["cluster"]; ok {
			if c, ok := w.clusterRef(m, cf.value, cf.path); ok {
				r.Cluster = c
				d.addCluster(c)
			}
		}
		from, fromOK := w.hashBound(obj, "hash_from")
		to, toOK := w.hashBound(obj, "hash_to")
		if !fromOK || !toOK {
			good = false
			continue
		}
		if from != nil {
			r.Min = *from
		}
		if to != nil {
			if *to <= r.Min {
				w.addAt(r.node, p, "empty hash range %s: hash_from must be less than hash_to", fmtHashRange(r.HashRange, to))
				good = false
				continue
			}
			r.Max = *to - 1
		}
		ranges = append(ranges, r)
	}
	if good && w.checkHashCoverage(f.path, ranges) {
		d.HashRanges = make([]HashRange, len(ranges))
		for i, r := range ranges {
			d.HashRanges[i] = r.HashRange
		}
	}
}

// hashBound reads hash_from or hash_to: absent or null is unbounded (nil).
func (w *walker) hashBound(obj map[string]field, name string) (*int64, bool) {
	bf, ok := obj[name]
	if !ok || w.isNull(bf.value) {
		return nil, true
	}
	s, ok := w.scalar(bf.value, bf.path)
	if !ok {
		return nil, false
	}
	k, err := ParseKey(KeyTypeBigint, s)
	if err != nil {
		w.addAt(w.node(bf.value), bf.path, "%s must be a signed 64-bit integer or null: %s", name, keyErrDetail(err))
		return nil, false
	}
	v := k.Int()
	return &v, true
}

// checkHashCoverage sorts ranges and reports gaps and overlaps: together
// they must cover [-2^63, 2^63) exactly once.
func (w *walker) checkHashCoverage(path string, ranges []placedHashRange) bool {
	sort.SliceStable(ranges, func(i, j int) bool { return ranges[i].Min < ranges[j].Min })
	ok := true
	var last *placedHashRange // the range reaching highest so far
	for i := range ranges {
		r := &ranges[i]
		p := indexPath(path, r.index)
		switch {
		case last == nil && r.Min != math.MinInt64:
			w.addAt(r.node, p, "hash values %s are not covered by any shard", fmtHashSpan(math.MinInt64, r.Min, true))
			ok = false
		case last != nil && r.Min <= last.Max:
			w.addAt(r.node, p, "hash range %s overlaps %s %s",
				fmtHashRange(r.HashRange, nil), indexPath("shards", last.index), fmtHashRange(last.HashRange, nil))
			ok = false
		case last != nil && r.Min > last.Max+1:
			w.addAt(r.node, p, "hash values %s are not covered by any shard", fmtHashSpan(last.Max+1, r.Min, false))
			ok = false
		}
		if last == nil || r.Max > last.Max {
			last = r
		}
	}
	if last != nil && last.Max != math.MaxInt64 {
		w.addAt(last.node, indexPath(path, last.index), "hash values %s are not covered by any shard (the highest range must end with hash_to: null)",
			"["+strconv.FormatInt(last.Max+1, 10)+", null)")
		ok = false
	}
	return ok
}

// fmtHashRange renders a range as the document writes it, [from, to) with
// null for unbounded ends. to overrides Max+1 for ranges not yet converted.
func fmtHashRange(r HashRange, to *int64) string {
	var b strings.Builder
	b.WriteByte('[')
	if r.Min == math.MinInt64 {
		b.WriteString("null")
	} else {
		b.WriteString(strconv.FormatInt(r.Min, 10))
	}
	b.WriteString(", ")
	switch {
	case to != nil:
		b.WriteString(strconv.FormatInt(*to, 10))
	case r.Max == math.MaxInt64:
		b.WriteString("null")
	default:
		b.WriteString(strconv.FormatInt(r.Max+1, 10))
	}
	b.WriteByte(')')
	return b.String()
}

// fmtHashSpan renders the uncovered span [from, to).
func fmtHashSpan(from, to int64, fromUnbounded bool) string {
	f := strconv.FormatInt(from, 10)
	if fromUnbounded {
		f = "null"
	}
	return "[" + f + ", " + strconv.FormatInt(to, 10) + ")"
}

// keyErrDetail strips the sentinel prefix from a ParseKey error for use in
// a validation message.
func keyErrDetail(err error) string {
	return strings.TrimPrefix(err.Error(), ErrBadKey.Error()+": ")
}

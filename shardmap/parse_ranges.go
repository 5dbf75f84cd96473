package shardmap

import (
	"sort"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// placedKeyRange is a parsed range item with its document position.
type placedKeyRange struct {
	KeyRange
	index int
	node  *yaml.Node
}

// keyRanges reads `ranges` of a range distribution: [from, to) items that
// must not overlap (gaps are allowed: keys in a gap have no cluster).
func (w *walker) keyRanges(m *Map, d *Distribution, f field) {
	items, ok := w.nonEmptyList(f)
	if !ok {
		return
	}
	var ranges []placedKeyRange
	good := true
	for i, it := range items {
		p := indexPath(f.path, i)
		obj, ok := w.object(it, p, keyRangeFields...)
		if !ok {
			good = false
			continue
		}
		r := placedKeyRange{index: i, node: w.node(it)}
		if cf, ok := obj["cluster"]; ok {
			if c, ok := w.clusterRef(m, cf.value, cf.path); ok {
				r.Cluster = c
				d.addCluster(c)
			}
		}
		var fromOK, toOK bool
		r.From, fromOK = w.keyBound(d, obj, "from")
		r.To, toOK = w.keyBound(d, obj, "to")
		if !fromOK || !toOK {
			good = false
			continue
		}
		if r.From != nil && r.To != nil && r.From.Compare(*r.To) >= 0 {
			w.addAt(r.node, p, "empty range %s: from must be less than to", fmtKeyRange(r.KeyRange))
			good = false
			continue
		}
		ranges = append(ranges, r)
	}
	if good && w.checkRangeOverlaps(f.path, ranges) {
		d.Ranges = make([]KeyRange, len(ranges))
		for i, r := range ranges {
			d.Ranges[i] = r.KeyRange
		}
	}
}

// keyBound reads from or to: absent or null is unbounded (nil).
func (w *walker) keyBound(d *Distribution, obj map[string]field, name string) (*Key, bool) {
	bf, ok := obj[name]
	if !ok || w.isNull(bf.value) {
		return nil, true
	}
	k, ok := w.keyValue(d, bf.value, bf.path)
	if !ok {
		return nil, false
	}
	return &k, true
}

// keyValue reads one scalar as a value of the distribution's key type.
func (w *walker) keyValue(d *Distribution, n *yaml.Node, path string) (Key, bool) {
	s, ok := w.scalar(n, path)
	if !ok {
		return Key{}, false
	}
	k, err := ParseKey(d.KeyType, s)
	if err != nil {
		w.addAt(w.node(n), path, "%s", keyErrDetail(err))
		return Key{}, false
	}
	return k, true
}

// checkRangeOverlaps sorts ranges by lower bound (unbounded first) and
// reports every range that starts before an earlier one ends.
func (w *walker) checkRangeOverlaps(path string, ranges []placedKeyRange) bool {
	sort.SliceStable(ranges, func(i, j int) bool { return lowerLess(ranges[i].From, ranges[j].From) })
	ok := true
	var reach *placedKeyRange // the range reaching highest so far
	for i := range ranges {
		r := &ranges[i]
		if reach != nil && (reach.To == nil || r.From == nil || r.From.Compare(*reach.To) < 0) {
			w.addAt(r.node, indexPath(path, r.index), "range %s overlaps %s %s",
				fmtKeyRange(r.KeyRange), indexPath("ranges", reach.index), fmtKeyRange(reach.KeyRange))
			ok = false
		}
		if reach == nil || upperLess(reach.To, r.To) {
			reach = r
		}
	}
	return ok
}

// lowerLess orders lower bounds, nil (unbounded) first.
func lowerLess(a, b *Key) bool {
	if a == nil || b == nil {
		return a == nil && b != nil
	}
	return a.Compare(*b) < 0
}

// upperLess orders upper bounds, nil (unbounded) last.
func upperLess(a, b *Key) bool {
	if a == nil || b == nil {
		return b == nil && a != nil
	}
	return a.Compare(*b) < 0
}

// fmtKeyRange renders [from, to) with null for unbounded ends; text
// bounds are quoted.
func fmtKeyRange(r KeyRange) string {
	return "[" + fmtBound(r.From) + ", " + fmtBound(r.To) + ")"
}

func fmtBound(k *Key) string {
	if k == nil {
		return "null"
	}
	return fmtKey(*k)
}

// fmtKey renders a key for messages: integers bare, text and uuids quoted.
func fmtKey(k Key) string {
	if k.Kind() == KindInt {
		return k.String()
	}
	return strconv.Quote(k.String())
}

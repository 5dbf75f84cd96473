package shardmap

import "fmt"

// valueLists reads `lists` of a list distribution; no value may be
// claimed twice.
func (w *walker) valueLists(m *Map, d *Distribution, f field) {
	items, ok := w.nonEmptyList(f)
	if !ok {
		return
	}
	type claim struct{ list, value int }
	claimed := map[Key]claim{}
	d.listIndex = map[Key]string{}
	for i, it := range items {
		p := indexPath(f.path, i)
		obj, ok := w.object(it, p, valueListFields...)
		if !ok {
			continue
		}
		var l ValueList
		if cf, ok := obj["cluster"]; ok {
			if c, ok := w.clusterRef(m, cf.value, cf.path); ok {
				l.Cluster = c
				d.addCluster(c)
			}
		}
		if vf, ok := obj["values"]; ok {
			vals, ok := w.nonEmptyList(vf)
			if !ok {
				continue
			}
			for j, vn := range vals {
				vp := indexPath(vf.path, j)
				k, ok := w.keyValue(d, vn, vp)
				if !ok {
					continue
				}
				if prev, dup := claimed[k]; dup {
					w.addAt(w.node(vn), vp, "value %s is already claimed by %s",
						fmtKey(k), fmt.Sprintf("lists[%d].values[%d]", prev.list, prev.value))
					continue
				}
				claimed[k] = claim{i, j}
				d.listIndex[k] = l.Cluster
				l.Values = append(l.Values, k)
			}
		}
		d.Lists = append(d.Lists, l)
	}
}

package shardmap

import (
	"slices"

	"go.yaml.in/yaml/v3"
)

// typeFields are the fields each distribution type uses; the others are
// refused so that a misplaced section is not silently ignored.
var typeFields = map[DistType][]string{
	DistHash:  {"shards"},
	DistRange: {"ranges"},
	DistList:  {"lists", "default"},
}

// distributions reads the distributions section.
func (w *walker) distributions(m *Map, f field) {
	fs, ok := w.mapping(f.value, f.path)
	if !ok {
		return
	}
	for _, df := range fs {
		if !isIdent(df.name) {
			w.addAt(df.key, df.path, "invalid distribution name %q: %s", df.name, identRule)
		}
		// Registered even when broken, so tables naming it get no extra
		// "unknown distribution" issue.
		d := &Distribution{Name: df.name}
		m.Distributions[df.name] = d
		m.distOrder = append(m.distOrder, df.name)
		w.distribution(m, d, df)
	}
}

func (w *walker) distribution(m *Map, d *Distribution, df field) {
	obj, ok := w.object(df.value, df.path, distributionFields...)
	if !ok {
		return
	}
	if tf, ok := obj["type"]; ok {
		if s, ok := w.str(tf.value, tf.path); ok {
			if DistType(s).Valid() {
				d.Type = DistType(s)
			} else {
				w.addAt(w.node(tf.value), tf.path, "unknown distribution type %q (expected hash, range or list)", s)
			}
		}
	}
	if kf, ok := obj["key_type"]; ok {
		if s, ok := w.str(kf.value, kf.path); ok {
			if KeyType(s).Valid() {
				d.KeyType = KeyType(s)
			} else {
				w.addAt(w.node(kf.value), kf.path, "unknown key type %q (expected smallint, int, bigint, text or uuid)", s)
			}
		}
	}
	if d.Type == "" {
		return // nothing more can be checked meaningfully
	}
	for _, name := range []string{"shards", "ranges", "lists", "default"} {
		if ff, ok := obj[name]; ok && !slices.Contains(typeFields[d.Type], name) {
			w.addAt(ff.key, ff.path, "not allowed in a %s distribution", d.Type)
			delete(obj, name)
		}
	}
	required := typeFields[d.Type][0]
	rf, ok := obj[required]
	if !ok {
		w.addAt(w.node(df.value), df.path, "missing required field %q (a %s distribution needs it)", required, d.Type)
		return
	}
	switch d.Type {
	case DistHash:
		w.hashShards(m, d, rf)
	case DistRange:
		if d.KeyType != "" {
			w.keyRanges(m, d, rf)
		}
	case DistList:
		if d.KeyType != "" {
			w.valueLists(m, d, rf)
		}
		if df, ok := obj["default"]; ok {
			if s, ok := w.clusterRef(m, df.value, df.path); ok {
				d.Default = s
				d.addCluster(s)
			}
		}
	}
}

// addCluster records that d can place rows on cluster c (document order,
// no repeats), for Distribution.Clusters.
func (d *Distribution) addCluster(c string) {
	if c != "" && !slices.Contains(d.clusters, c) {
		d.clusters = append(d.clusters, c)
	}
}

// nonEmptyList reads a list that must have at least one item.
func (w *walker) nonEmptyList(f field) ([]*yaml.Node, bool) {
	items, ok := w.sequence(f.value, f.path)
	if ok && len(items) == 0 {
		w.addAt(w.node(f.value), f.path, "must not be empty")
		return nil, false
	}
	return items, ok
}

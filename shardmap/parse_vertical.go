package shardmap

import "go.yaml.in/yaml/v3"

// vertical reads the physical tables of a vertically partitioned table:
// every group carries the key, and no other column is in two groups.
func (w *walker) vertical(m *Map, t *Table, f field) ([]VerticalGroup, bool) {
	items, ok := w.nonEmptyList(f)
	if !ok {
		return nil, false
	}
	good := true
	owner := map[string]string{}  // column -> path of its first claim
	tables := map[string]string{} // physical table -> path of its group
	groups := make([]VerticalGroup, 0, len(items))
	for i, it := range items {
		p := indexPath(f.path, i)
		obj, ok := w.object(it, p, verticalGroupFields...)
		if !ok {
			good = false
			continue
		}
		g := VerticalGroup{}
		if tf, ok := obj["table"]; ok {
			if s, ok := w.str(tf.value, tf.path); ok {
				schema, name, valid := splitTableName(s, t.Schema)
				switch {
				case !valid:
					w.addAt(w.node(tf.value), tf.path, "invalid table name %q: %s", s, tableNameRule)
					good = false
				case tables[schema+"."+name] != "":
					w.addAt(w.node(tf.value), tf.path, "table %q is already used by %s", s, tables[schema+"."+name])
					good = false
				default:
					tables[schema+"."+name] = relPath(f.path, p)
					g.Table, g.Schema, g.Name = s, schema, name
					w.physical = append(w.physical, physicalRef{qualifiedName{schema, name}, s, w.node(tf.value), tf.path})
				}
			} else {
				good = false
			}
		}
		g.Distribution = t.Distribution
		if df, ok := obj["distribution"]; ok {
			if d, ok := w.groupDistribution(m, t, df); ok {
				g.Distribution = d
			} else {
				good = false
			}
		}
		cf, ok := obj["columns"]
		if !ok {
			good = false
			continue
		}
		cols, ok := w.nonEmptyList(cf)
		if !ok {
			good = false
			continue
		}
		hasKey := false
		for j, cn := range cols {
			cp := indexPath(cf.path, j)
			c, ok := w.column(cn, cp)
			if !ok {
				good = false
				continue
			}
			if c == t.Key {
				if hasKey {
					w.addAt(w.node(cn), cp, "column %q is listed twice", c)
					good = false
					continue
				}
				hasKey = true
			} else if prev := owner[c]; prev == relPath(f.path, p) {
				w.addAt(w.node(cn), cp, "column %q is listed twice", c)
				good = false
				continue
			} else if prev != "" {
				w.addAt(w.node(cn), cp, "column %q is already claimed by %s", c, prev)
				good = false
				continue
			} else {
				owner[c] = relPath(f.path, p)
			}
			g.Columns = append(g.Columns, c)
		}
		if !hasKey && t.Key != "" {
			w.addAt(w.node(cf.value), cf.path, "does not carry the key column %q (every group needs it to join back)", t.Key)
			good = false
		}
		groups = append(groups, g)
	}
	return groups, good
}

// relPath is p shown relative to the table entry: "vertical[0]".
func relPath(listPath, p string) string {
	return "vertical" + p[len(listPath):]
}

// physicalRef is a physical table named by a vertical group, kept to
// check it against the logical tables once all are known.
type physicalRef struct {
	qn   qualifiedName
	name string
	node *yaml.Node
	path string
}

// checkVerticalNames refuses a physical table that is also listed as a
// logical table of the map: a query naming it would be ambiguous.
func (w *walker) checkVerticalNames(where map[qualifiedName]string) {
	for _, ref := range w.physical {
		if prev, clash := where[ref.qn]; clash {
			w.addAt(ref.node, ref.path, "table %q is also listed as %s", ref.name, prev)
		}
	}
}

package shardmap

// groupDistribution reads the distribution of a vertical group that is
// placed apart from its logical table: it must exist and take the same
// key type, since one key value places the row's part in every group.
func (w *walker) groupDistribution(m *Map, t *Table, f field) (*Distribution, bool) {
	name, ok := w.str(f.value, f.path)
	if !ok {
		return nil, false
	}
	d, known := m.Distributions[name]
	switch {
	case !known:
		w.addAt(w.node(f.value), f.path, "unknown distribution %q", name)
		return nil, false
	case t.Distribution != nil && d.KeyType != t.Distribution.KeyType:
		w.addAt(w.node(f.value), f.path, "distribution %q has key type %s, the table's distribution %q has %s: a group must take the same key", name, d.KeyType, t.Distribution.Name, t.Distribution.KeyType)
		return nil, false
	}
	return d, true
}

// indexPhysical describes the physical table of every vertical group as a
// table of the map.
func (m *Map) indexPhysical() {
	m.physicalIndex = map[qualifiedName]*Table{}
	for _, t := range m.Tables {
		for i := range t.Vertical {
			g := &t.Vertical[i]
			g.Physical = &Table{Name: g.Name, Schema: g.Schema, Distribution: g.Distribution, Key: t.Key}
			m.physicalIndex[qualifiedName{g.Schema, g.Name}] = g.Physical
		}
	}
}

// LookupPhysical finds the physical table of a vertical group by schema
// ("" for public) and name.
func (m *Map) LookupPhysical(schema, name string) (*Table, bool) {
	if schema == "" {
		schema = "public"
	}
	t, ok := m.physicalIndex[qualifiedName{schema, name}]
	return t, ok
}

// Group returns the vertical group of a logical table that holds a column.
func (t *Table) Group(column string) (*VerticalGroup, bool) {
	for i := range t.Vertical {
		for _, c := range t.Vertical[i].Columns {
			if c == column {
				return &t.Vertical[i], true
			}
		}
	}
	return nil, false
}

// Columns lists a vertically partitioned table's logical columns: the key,
// then each group's other columns, in document order.
func (t *Table) Columns() []string {
	out := []string{t.Key}
	for _, g := range t.Vertical {
		for _, c := range g.Columns {
			if c != t.Key {
				out = append(out, c)
			}
		}
	}
	return out
}

// ActiveClusters lists the clusters that are not syncing, in document
// order: those reference tables may be read from.
func (m *Map) ActiveClusters() []string {
	out := make([]string, 0, len(m.ClusterNames))
	for _, name := range m.ClusterNames {
		if !m.Clusters[name].Syncing {
			out = append(out, name)
		}
	}
	return out
}

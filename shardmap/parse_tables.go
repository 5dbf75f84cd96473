package shardmap

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// splitTableName splits "schema.table" or "table" (schema public).
func splitTableName(s, defaultSchema string) (schema, name string, ok bool) {
	parts := strings.Split(s, ".")
	switch len(parts) {
	case 1:
		return defaultSchema, parts[0], isIdent(parts[0])
	case 2:
		return parts[0], parts[1], isIdent(parts[0]) && isIdent(parts[1])
	}
	return "", "", false
}

const tableNameRule = `table names are "table" or "schema.table", each part an identifier (ASCII letters, digits, _ and $, not starting with a digit or $, at most 63 bytes)`

// tables reads the tables section.
func (w *walker) tables(m *Map, f field) {
	fs, ok := w.mapping(f.value, f.path)
	if !ok {
		return
	}
	where := map[qualifiedName]string{} // table -> path that defined it
	for _, tf := range fs {
		schema, name, ok := splitTableName(tf.name, "public")
		if !ok {
			w.addAt(tf.key, tf.path, "invalid table name %q: %s", tf.name, tableNameRule)
			continue
		}
		qn := qualifiedName{schema, name}
		if prev, dup := where[qn]; dup {
			w.addAt(tf.key, tf.path, "names the same table as %s", prev)
			continue
		}
		where[qn] = tf.path
		t := &Table{Name: name, Schema: schema}
		if w.table(m, t, tf) {
			m.Tables[tf.name] = t
			m.tableIndex[qn] = t
			m.tableOrder = append(m.tableOrder, tf.name)
		}
	}
	w.checkVerticalNames(where)
}

// table reads one table entry; false when it is unusable.
func (w *walker) table(m *Map, t *Table, tf field) bool {
	obj, ok := w.object(tf.value, tf.path, tableFields...)
	if !ok {
		return false
	}
	good := true
	if rf, ok := obj["reference"]; ok {
		t.Reference, good = w.boolean(rf.value, rf.path)
	}
	df, hasDist := obj["distribution"]
	kf, hasKey := obj["key"]
	vf, hasVertical := obj["vertical"]
	if t.Reference {
		for _, ff := range []struct {
			has bool
			f   field
			why string
		}{
			{hasDist, df, "a reference table is copied to every cluster: it cannot also have a distribution"},
			{hasKey, kf, "a reference table has no distribution key"},
			{hasVertical, vf, "vertical partitioning is only supported for distributed tables"},
		} {
			if ff.has {
				w.addAt(ff.f.key, ff.f.path, "%s", ff.why)
				good = false
			}
		}
		return good
	}
	if !hasDist {
		if good {
			w.addAt(w.node(tf.value), tf.path, `missing required field "distribution" (or set reference: true)`)
		}
		return false
	}
	if name, ok := w.str(df.value, df.path); ok {
		d, known := m.Distributions[name]
		if known {
			t.Distribution = d
		} else {
			w.addAt(w.node(df.value), df.path, "unknown distribution %q", name)
			good = false
		}
	} else {
		good = false
	}
	if !hasKey {
		w.addAt(w.node(tf.value), tf.path, `missing required field "key" (the distribution key column)`)
		return false
	}
	key, ok := w.column(kf.value, kf.path)
	if !ok {
		return false
	}
	t.Key = key
	if hasVertical {
		t.Vertical, ok = w.vertical(m, t, vf)
		good = good && ok
	}
	return good
}

// column reads a column name.
func (w *walker) column(n *yaml.Node, path string) (string, bool) {
	s, ok := w.str(n, path)
	if !ok {
		return "", false
	}
	if !isIdent(s) {
		w.addAt(w.node(n), path, "invalid column name %q: %s", s, identRule)
		return "", false
	}
	return s, true
}

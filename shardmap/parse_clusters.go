package shardmap

// clusters reads the clusters section: name -> {primary, replicas}.
func (w *walker) clusters(m *Map, f field) {
	fs, ok := w.mapping(f.value, f.path)
	if !ok {
		return
	}
	if len(fs) == 0 {
		w.addAt(w.node(f.value), f.path, "must define at least one cluster")
		return
	}
	for _, cf := range fs {
		if !isIdent(cf.name) {
			w.addAt(cf.key, cf.path, "invalid cluster name %q: %s", cf.name, identRule)
		}
		c := &Cluster{Name: cf.name}
		// Register even a broken cluster, so references to it do not add
		// a second, misleading "unknown cluster" issue.
		m.Clusters[cf.name] = c
		m.ClusterNames = append(m.ClusterNames, cf.name)

		obj, ok := w.object(cf.value, cf.path, clusterFields...)
		if !ok {
			continue
		}
		if p, ok := obj["primary"]; ok {
			if s, ok := w.str(p.value, p.path); ok {
				w.checkURL(p.value, p.path, s)
				c.Primary = s
			}
		}
		if r, ok := obj["replicas"]; ok {
			c.Replicas = w.replicas(r)
		}
		if sf, ok := obj["state"]; ok {
			if s, ok := w.str(sf.value, sf.path); ok {
				switch s {
				case "active":
				case "syncing":
					c.Syncing = true
				default:
					w.addAt(w.node(sf.value), sf.path, "unknown cluster state %q (expected active or syncing)", s)
				}
			}
		}
	}
}

// identRule explains the identifier rule in messages.
const identRule = "names must be identifiers (ASCII letters, digits, _ and $, not starting with a digit or $, at most 63 bytes)"

func (w *walker) replicas(f field) []Replica {
	items, ok := w.sequence(f.value, f.path)
	if !ok {
		return nil
	}
	out := make([]Replica, 0, len(items))
	for i, it := range items {
		p := indexPath(f.path, i)
		obj, ok := w.object(it, p, replicaFields...)
		if !ok {
			continue
		}
		r := Replica{Weight: 1}
		if u, ok := obj["url"]; ok {
			if s, ok := w.str(u.value, u.path); ok {
				w.checkURL(u.value, u.path, s)
				r.URL = s
			}
		}
		if wf, ok := obj["weight"]; ok {
			if v, ok := w.integer(wf.value, wf.path); ok {
				switch {
				case v < 0:
					w.addAt(w.node(wf.value), wf.path, "weight must be >= 0, not %d", v)
				case v > maxWeight:
					w.addAt(w.node(wf.value), wf.path, "weight must be <= %d, not %d", maxWeight, v)
				default:
					r.Weight = int(v)
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// maxWeight keeps weight sums far from overflow.
const maxWeight = 1000000

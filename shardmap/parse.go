package shardmap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Parse reads a shard map document (YAML, or JSON, which is YAML) and
// checks every rule of the contract (shared/SHARDMAP.md,
// schemas/shardmap.schema.json). On any problem it returns a
// *ValidationError listing all of them, each with its path in the
// document, and no map. The returned Map is immutable.
func Parse(data []byte) (*Map, error) {
	w := &walker{maxNodes: 4*len(data) + extraNodes}
	root, ok := decodeDocument(w, data)
	if !ok {
		return nil, w.iss.err()
	}
	m := w.document(root)
	if err := w.iss.err(); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeDocument reads exactly one YAML document into a node tree.
func decodeDocument(w *walker, data []byte) (root *yaml.Node, ok bool) {
	defer func() {
		// The YAML library is third-party code fed with user input: a
		// panic in it must become an error, not a crashed router.
		if r := recover(); r != nil {
			w.addAt(nil, "", "invalid YAML: %v", r)
			ok = false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			w.addAt(nil, "", "the document is empty")
		} else {
			w.addAt(nil, "", "invalid YAML: %v", err)
		}
		return nil, false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		w.addAt(&extra, "", "expected a single YAML document, found more")
		return nil, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		w.addAt(&doc, "", "the document is empty")
		return nil, false
	}
	return doc.Content[0], true
}

// document checks the top level. Sections are read in dependency order
// (clusters, then distributions, then tables) whatever their order in
// the text; issues are sorted back into document order at the end.
func (w *walker) document(root *yaml.Node) *Map {
	top, ok := w.object(root, "", topFields...)
	if !ok {
		return nil
	}
	m := &Map{
		Clusters:      map[string]*Cluster{},
		Distributions: map[string]*Distribution{},
		Tables:        map[string]*Table{},
		tableIndex:    map[qualifiedName]*Table{},
	}
	if f, ok := top["version"]; ok {
		if v, ok := w.integer(f.value, f.path); ok {
			if v != 1 {
				w.addAt(w.node(f.value), f.path, "unsupported version %d (this router reads version 1)", v)
			}
			m.Version = int(v)
		}
	}
	if f, ok := top["clusters"]; ok {
		w.clusters(m, f)
	}
	if f, ok := top["coordinator"]; ok {
		if s, ok := w.str(f.value, f.path); ok {
			w.checkURL(f.value, f.path, s)
			m.Coordinator = s
		}
	}
	if f, ok := top["default_cluster"]; ok {
		if s, ok := w.clusterRef(m, f.value, f.path); ok {
			m.DefaultCluster = s
		}
	}
	if f, ok := top["distributions"]; ok {
		w.distributions(m, f)
	}
	if f, ok := top["tables"]; ok {
		w.tables(m, f)
	}
	if m.DefaultCluster == "" && len(m.ClusterNames) > 0 && m.Clusters[m.ClusterNames[0]].Syncing {
		w.addAt(w.node(root), "clusters", "the first cluster %q is the default cluster and cannot be syncing: set default_cluster to an active one", m.ClusterNames[0])
	}
	m.indexPhysical()
	return m
}

// clusterRef reads a cluster name and checks that the cluster exists.
func (w *walker) clusterRef(m *Map, n *yaml.Node, path string) (string, bool) {
	s, ok := w.str(n, path)
	if !ok {
		return "", false
	}
	c, known := m.Clusters[s]
	if !known {
		w.addAt(w.node(n), path, "unknown cluster %q", s)
		return "", false
	}
	if c.Syncing {
		w.addAt(w.node(n), path, "cluster %q is syncing (its reference tables are not copied yet): it cannot hold distributed rows or be the default cluster until `sqlrouter reference sync` marks it active", s)
		return "", false
	}
	return s, true
}

// checkURL accepts what a PostgreSQL client accepts as a connection URL:
// scheme postgres or postgresql, and a host in the authority or in the
// host query parameter (for Unix sockets).
func (w *walker) checkURL(n *yaml.Node, path, s string) {
	if err := checkPostgresURL(s); err != nil {
		w.addAt(w.node(n), path, "invalid postgres URL %q: %v", s, err)
	}
}

func checkPostgresURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("the scheme must be postgres:// or postgresql://")
	}
	if u.Opaque != "" {
		return fmt.Errorf("expected postgres://host/database")
	}
	if u.Host == "" && u.Query().Get("host") == "" {
		return fmt.Errorf("no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q out of range", p)
		}
	}
	return nil
}

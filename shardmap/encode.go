package shardmap

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Encode renders m as a canonical YAML document that Parse reads back
// into an equivalent map: defaults written out (replica weights), hash
// shards in the short form when the document used it and otherwise as
// sorted [hash_from, hash_to) ranges, range distributions sorted by their
// lower bound. Entries keep their document order.
func (m *Map) Encode() ([]byte, error) {
	root := mapNode()
	addPair(root, "version", intNode(int64(m.Version)))
	clusters := mapNode()
	for _, name := range m.ClusterNames {
		c := m.Clusters[name]
		cn := mapNode()
		addPair(cn, "primary", strNode(c.Primary))
		if len(c.Replicas) > 0 {
			reps := seqNode()
			for _, r := range c.Replicas {
				rn := mapNode()
				addPair(rn, "url", strNode(r.URL))
				addPair(rn, "weight", intNode(int64(r.Weight)))
				reps.Content = append(reps.Content, rn)
			}
			addPair(cn, "replicas", reps)
		}
		if c.Syncing {
			addPair(cn, "state", strNode("syncing"))
		}
		addPair(clusters, name, cn)
	}
	addPair(root, "clusters", clusters)
	if m.Coordinator != "" {
		addPair(root, "coordinator", strNode(m.Coordinator))
	}
	if m.DefaultCluster != "" {
		addPair(root, "default_cluster", strNode(m.DefaultCluster))
	}
	if len(m.Distributions) > 0 {
		dists := mapNode()
		for _, name := range orderedNames(m.distOrder, m.Distributions) {
			addPair(dists, name, encodeDistribution(m.Distributions[name]))
		}
		addPair(root, "distributions", dists)
	}
	if len(m.Tables) > 0 {
		tables := mapNode()
		for _, name := range orderedNames(m.tableOrder, m.Tables) {
			addPair(tables, name, encodeTable(m.Tables[name]))
		}
		addPair(root, "tables", tables)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("encode shard map: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode shard map: %w", err)
	}
	return buf.Bytes(), nil
}

// orderedNames is the document order, then any other names sorted (for
// maps not built by Parse).
func orderedNames[V any](order []string, all map[string]V) []string {
	out := make([]string, 0, len(all))
	for _, n := range order {
		if _, ok := all[n]; ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	var rest []string
	for n := range all {
		if !slices.Contains(out, n) {
			rest = append(rest, n)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

func encodeDistribution(d *Distribution) *yaml.Node {
	n := mapNode()
	addPair(n, "type", strNode(string(d.Type)))
	addPair(n, "key_type", strNode(string(d.KeyType)))
	switch d.Type {
	case DistHash:
		shards := seqNode()
		if d.HashShortForm {
			shards.Style = yaml.FlowStyle
			for _, r := range d.HashRanges {
				shards.Content = append(shards.Content, strNode(r.Cluster))
			}
		} else {
			for _, r := range d.HashRanges {
				rn := flowMapNode()
				addPair(rn, "cluster", strNode(r.Cluster))
				from, to := nullNode(), nullNode()
				if r.Min != math.MinInt64 {
					from = intNode(r.Min)
				}
				if r.Max != math.MaxInt64 {
					to = intNode(r.Max + 1)
				}
				addPair(rn, "hash_from", from)
				addPair(rn, "hash_to", to)
				shards.Content = append(shards.Content, rn)
			}
		}
		addPair(n, "shards", shards)
	case DistRange:
		ranges := seqNode()
		for _, r := range d.Ranges {
			rn := flowMapNode()
			addPair(rn, "cluster", strNode(r.Cluster))
			addPair(rn, "from", boundNode(r.From))
			addPair(rn, "to", boundNode(r.To))
			ranges.Content = append(ranges.Content, rn)
		}
		addPair(n, "ranges", ranges)
	case DistList:
		lists := seqNode()
		for _, l := range d.Lists {
			ln := flowMapNode()
			addPair(ln, "cluster", strNode(l.Cluster))
			vals := seqNode()
			vals.Style = yaml.FlowStyle
			for _, v := range l.Values {
				vals.Content = append(vals.Content, keyNode(v))
			}
			addPair(ln, "values", vals)
			lists.Content = append(lists.Content, ln)
		}
		addPair(n, "lists", lists)
		if d.Default != "" {
			addPair(n, "default", strNode(d.Default))
		}
	}
	return n
}

func encodeTable(t *Table) *yaml.Node {
	n := flowMapNode()
	if t.Reference {
		addPair(n, "reference", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
		return n
	}
	if t.Distribution != nil {
		addPair(n, "distribution", strNode(t.Distribution.Name))
	}
	addPair(n, "key", strNode(t.Key))
	if len(t.Vertical) > 0 {
		n.Style = 0
		groups := seqNode()
		for _, g := range t.Vertical {
			gn := flowMapNode()
			addPair(gn, "table", strNode(g.Table))
			cols := seqNode()
			for _, c := range g.Columns {
				cols.Content = append(cols.Content, strNode(c))
			}
			addPair(gn, "columns", cols)
			if g.Distribution != nil && g.Distribution != t.Distribution {
				addPair(gn, "distribution", strNode(g.Distribution.Name))
			}
			groups.Content = append(groups.Content, gn)
		}
		addPair(n, "vertical", groups)
	}
	return n
}

func mapNode() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }
func flowMapNode() *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}
}
func seqNode() *yaml.Node  { return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"} }
func nullNode() *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"} }
func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}
func intNode(v int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v, 10)}
}

func keyNode(k Key) *yaml.Node {
	if k.Kind() == KindInt {
		return intNode(k.Int())
	}
	return strNode(k.String())
}

func boundNode(k *Key) *yaml.Node {
	if k == nil {
		return nullNode()
	}
	return keyNode(*k)
}

func addPair(m *yaml.Node, key string, value *yaml.Node) {
	m.Content = append(m.Content, strNode(key), value)
}

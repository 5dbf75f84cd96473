package refsync

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// setActive returns the shard map document with the cluster's state
// field removed (active is the default), the rest of the document, its
// comments included, as it was.
func setActive(doc []byte, cluster string) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("refsync: read the shard map: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil, fmt.Errorf("refsync: the shard map is empty")
	}
	clusters := field(root.Content[0], "clusters")
	entry := field(clusters, cluster)
	if entry == nil || entry.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("refsync: the shard map has no cluster %q", cluster)
	}
	for i := 0; i+1 < len(entry.Content); i += 2 {
		if entry.Content[i].Value == "state" {
			entry.Content = append(entry.Content[:i], entry.Content[i+2:]...)
			break
		}
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, err
	}
	return out.Bytes(), enc.Close()
}

// field returns the value of a key of a mapping node, or nil.
func field(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

package devstack

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sqlrouter/sqlrouter/localdeploy"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// Database is the database of every instance the router's shard map uses.
const Database = "app"

// clustersYAML renders the deployment's clusters as shard map YAML.
func clustersYAML(d *localdeploy.Deployment, indent string) string {
	var b strings.Builder
	for _, c := range d.Clusters {
		fmt.Fprintf(&b, "%s%s:\n%s  primary: %s\n", indent, c.Name, indent, c.Primary.DSN(Database))
		if len(c.Replicas) > 0 {
			fmt.Fprintf(&b, "%s  replicas:\n", indent)
			for _, r := range c.Replicas {
				fmt.Fprintf(&b, "%s    - url: %s\n", indent, r.DSN(Database))
			}
		}
	}
	return b.String()
}

// ExampleMap is the built-in shard map: customers and their orders hash
// distributed (co-located) over every cluster, countries a reference table.
func ExampleMap(d *localdeploy.Deployment) []byte {
	var names []string
	for _, c := range d.Clusters {
		names = append(names, c.Name)
	}
	var b strings.Builder
	b.WriteString("# The built-in example shard map of sqlrouter dev.\nversion: 1\nclusters:\n")
	b.WriteString(clustersYAML(d, "  "))
	if d.Coordinator != nil {
		fmt.Fprintf(&b, "coordinator: %s\n", d.Coordinator.DSN(Database))
	}
	fmt.Fprintf(&b, `default_cluster: %s
distributions:
  by_customer:
    type: hash
    key_type: bigint
    shards: [%s]
tables:
  customers: {distribution: by_customer, key: id}
  orders:    {distribution: by_customer, key: customer_id}
  countries: {reference: true}
`, names[0], strings.Join(names, ", "))
	return []byte(b.String())
}

// ExampleSchema creates the example map's tables, run through the router.
var ExampleSchema = []string{
	`CREATE TABLE customers (
  id bigint PRIMARY KEY,
  name text NOT NULL,
  email text,
  country text,
  created_at timestamptz NOT NULL DEFAULT now()
)`,
	`CREATE TABLE orders (
  customer_id bigint NOT NULL,
  id bigint NOT NULL,
  amount numeric(12,2) NOT NULL,
  status text NOT NULL DEFAULT 'new',
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, id)
)`,
	`CREATE TABLE countries (code text PRIMARY KEY, name text NOT NULL)`,
	`INSERT INTO countries (code, name) VALUES ('us', 'United States'), ('ca', 'Canada'), ('fr', 'France'), ('de', 'Germany'), ('jp', 'Japan')`,
}

// AdaptMap takes a user's shard map and points it at the deployment: its
// clusters and coordinator are replaced by the deployment's (clusters
// named s0, s1, ...); everything else is kept. The result is validated.
func AdaptMap(doc []byte, d *localdeploy.Deployment) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("shard map: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("shard map: not a YAML mapping")
	}
	var clusters yaml.Node
	if err := yaml.Unmarshal([]byte("x:\n"+clustersYAML(d, "  ")), &clusters); err != nil {
		return nil, err
	}
	m := root.Content[0]
	set := func(key string, value *yaml.Node) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				m.Content[i+1] = value
				return
			}
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, value)
	}
	set("clusters", clusters.Content[0].Content[1])
	if d.Coordinator != nil {
		set("coordinator", &yaml.Node{Kind: yaml.ScalarNode, Value: d.Coordinator.DSN(Database)})
	}
	out, err := yaml.Marshal(&root)
	if err != nil {
		return nil, err
	}
	if _, err := shardmap.Parse(out); err != nil {
		return nil, fmt.Errorf("the shard map does not fit this deployment (clusters are named s0, s1, ...):\n%w", err)
	}
	return out, nil
}

package shardmap

// Map is one validated shard map. A Map returned by Parse is immutable:
// share it freely between goroutines, never modify it.
type Map struct {
	// Version is the document format version (always 1 today).
	Version int
	// Clusters holds every cluster by name.
	Clusters map[string]*Cluster
	// ClusterNames lists the cluster names in document order.
	ClusterNames []string
	// Coordinator is the URL of the scratch PostgreSQL used for final merge
	// steps, or "" when the document names none.
	Coordinator string
	// DefaultCluster is default_cluster as written ("" when absent); use
	// DefaultClusterName for the effective value.
	DefaultCluster string
	// Distributions holds every distribution (co-location group) by name.
	Distributions map[string]*Distribution
	// Tables holds every table entry by its name as written in the document
	// ("orders" or "sales.orders"); use LookupTable to find a table by
	// schema and name.
	Tables map[string]*Table

	tableIndex map[qualifiedName]*Table
	// physicalIndex finds the physical tables of vertical groups.
	physicalIndex map[qualifiedName]*Table
	// distOrder and tableOrder keep document order for Encode.
	distOrder, tableOrder []string
}

// qualifiedName identifies a table by schema and name.
type qualifiedName struct{ schema, name string }

// Cluster is one shard: a primary and its streaming replicas.
type Cluster struct {
	// Name is the cluster's name in the document.
	Name string
	// Primary is the postgres:// URL of the primary.
	Primary string
	// Replicas lists the replicas in document order.
	Replicas []Replica
	// Syncing is set (state: syncing) while the cluster receives its
	// copies of the reference tables: the router writes reference tables
	// there but reads them elsewhere, and no distribution may place rows
	// on it.
	Syncing bool
}

// Replica is one streaming replica of a cluster.
type Replica struct {
	// URL is the postgres:// URL of the replica.
	URL string
	// Weight is the replica's share of reads among the cluster's replicas
	// (1 when the document omits it; 0 takes it out of rotation).
	Weight int
}

// Table is one table the map knows about: distributed by a distribution's
// key, or a reference table copied to every cluster.
type Table struct {
	// Name is the table's name without schema.
	Name string
	// Schema is the table's schema: as written in a qualified name, else
	// "public".
	Schema string
	// Reference is true for a table copied to every cluster.
	Reference bool
	// Distribution places the rows of a distributed table (nil for a
	// reference table).
	Distribution *Distribution
	// Key is the distribution key column ("" for a reference table).
	Key string
	// Vertical lists the physical tables a vertically partitioned table is
	// split into, each holding the key and a group of columns (nil when
	// the table is not split).
	Vertical []VerticalGroup
}

// VerticalGroup is one physical table of a vertically partitioned table.
type VerticalGroup struct {
	// Table is the physical table's name as written (may be
	// schema-qualified).
	Table string
	// Schema and Name split Table; an unqualified physical table lives in
	// the schema of its logical table.
	Schema, Name string
	// Columns lists the columns the physical table holds, the key included.
	Columns []string
	// Distribution places the group's rows: the logical table's, unless
	// the group names another of the same key type.
	Distribution *Distribution
	// Physical describes the group's table as a table of the map (its
	// name, schema, distribution and key), for statements that name it.
	Physical *Table
}

// LookupTable finds the map entry for a table. schema "" or "public"
// matches an unqualified entry as well as a "public."-qualified one. Names
// are compared exactly, as PostgreSQL stores them after identifier case
// folding: the caller folds unquoted identifiers to lower case.
func (m *Map) LookupTable(schema, name string) (*Table, bool) {
	if schema == "" {
		schema = "public"
	}
	t, ok := m.tableIndex[qualifiedName{schema, name}]
	return t, ok
}

// DefaultClusterName is the cluster that receives catalog queries and
// tables the map does not list: default_cluster, or the first cluster of
// the document when it has none.
func (m *Map) DefaultClusterName() string {
	if m.DefaultCluster != "" {
		return m.DefaultCluster
	}
	if len(m.ClusterNames) > 0 {
		return m.ClusterNames[0]
	}
	return ""
}

// QualifiedName is "schema.name", the table's unambiguous name.
func (t *Table) QualifiedName() string { return t.Schema + "." + t.Name }

package shardmap

import (
	"errors"
	"math"
	"slices"
	"testing"
)

const lookupDoc = `
version: 1
clusters:
  s0: {primary: "postgres://h0/app"}
  s1: {primary: "postgres://h1/app"}
  s2: {primary: "postgres://h2/app"}
default_cluster: s1
distributions:
  by_customer: {type: hash, key_type: bigint, shards: [s0, s1]}
  by_account:
    type: hash
    key_type: uuid
    shards:
      - {cluster: s2, hash_from: 0, hash_to: null}
      - {cluster: s0, hash_from: null, hash_to: -100}
      - {cluster: s1, hash_from: -100, hash_to: 0}
  by_time:
    type: range
    key_type: int
    ranges:
      - {cluster: s1, from: 100, to: 200}
      - {cluster: s0, from: null, to: 100}
      - {cluster: s2, from: 300, to: null}
  by_name:
    type: range
    key_type: text
    ranges:
      - {cluster: s0, from: null, to: "N"}
      - {cluster: s1, from: "N", to: "n"}
  by_region:
    type: list
    key_type: text
    lists:
      - {cluster: s2, values: [us, ca]}
      - {cluster: s0, values: [eu]}
    default: s1
  by_code:
    type: list
    key_type: smallint
    lists:
      - {cluster: s1, values: [1, "2", " 3"]}
tables:
  customers: {distribution: by_customer, key: id}
  sales.orders: {distribution: by_customer, key: customer_id}
  public.items: {distribution: by_customer, key: customer_id}
  countries: {reference: true}
`

func TestClusterFor(t *testing.T) {
	m, err := Parse([]byte(lookupDoc))
	if err != nil {
		t.Fatal(err)
	}
	d := m.Distributions
	uuid := func(s string) Key { return mustKey(t, KeyTypeUUID, s) }
	cases := []struct {
		dist    string
		key     Key
		want    string
		wantErr error
	}{
		// hashint8extended(5, 0) = -9138765687874534020 < 0: first half.
		{"by_customer", IntKey(5), "s0", nil},
		// hashint8extended(0, 0) = 4154612158245552303 >= 0: second half.
		{"by_customer", IntKey(0), "s1", nil},
		{"by_customer", TextKey("5"), "", ErrKeyKind},
		// uuid_hash_extended: 7543054272012930821 -> [0, null) -> s2.
		{"by_account", uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "s2", nil},
		// -6859010066814654381 -> [null, -100) -> s0.
		{"by_account", uuid("00000000-0000-0000-0000-000000000000"), "s0", nil},
		{"by_time", IntKey(math.MinInt64), "s0", nil},
		{"by_time", IntKey(99), "s0", nil},
		{"by_time", IntKey(100), "s1", nil},
		{"by_time", IntKey(199), "s1", nil},
		{"by_time", IntKey(200), "", ErrNoCluster}, // the gap [200, 300)
		{"by_time", IntKey(299), "", ErrNoCluster},
		{"by_time", IntKey(300), "s2", nil},
		{"by_time", IntKey(math.MaxInt64), "s2", nil},
		// C collation: "M" < "N" <= "Z" < "a" < "n".
		{"by_name", TextKey("M"), "s0", nil},
		{"by_name", TextKey("Z"), "s1", nil},
		{"by_name", TextKey("a"), "s1", nil},
		{"by_name", TextKey("n"), "", ErrNoCluster},
		{"by_region", TextKey("ca"), "s2", nil},
		{"by_region", TextKey("eu"), "s0", nil},
		{"by_region", TextKey("EU"), "s1", nil}, // the default
		{"by_code", IntKey(3), "s1", nil},
		{"by_code", IntKey(4), "", ErrNoCluster}, // no default
	}
	for _, c := range cases {
		got, err := d[c.dist].ClusterFor(c.key)
		if got != c.want || !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
			t.Errorf("%s.ClusterFor(%v) = %q, %v; want %q, %v", c.dist, c.key, got, err, c.want, c.wantErr)
		}
	}
}

func TestMapAccessors(t *testing.T) {
	m, err := Parse([]byte(lookupDoc))
	if err != nil {
		t.Fatal(err)
	}
	if m.DefaultClusterName() != "s1" || !slices.Equal(m.ClusterNames, []string{"s0", "s1", "s2"}) {
		t.Errorf("default %q, names %v", m.DefaultClusterName(), m.ClusterNames)
	}
	clusters := map[string][]string{
		"by_customer": {"s0", "s1"},
		"by_account":  {"s2", "s0", "s1"}, // document order, not hash order
		"by_time":     {"s1", "s0", "s2"},
		"by_region":   {"s2", "s0", "s1"}, // the default last
		"by_code":     {"s1"},
	}
	for name, want := range clusters {
		if got := m.Distributions[name].Clusters(); !slices.Equal(got, want) {
			t.Errorf("%s.Clusters() = %v, want %v", name, got, want)
		}
	}
	lookups := []struct {
		schema, name string
		want         string // qualified name, "" = not found
	}{
		{"", "customers", "public.customers"},
		{"public", "customers", "public.customers"},
		{"other", "customers", ""},
		{"sales", "orders", "sales.orders"},
		{"", "orders", ""},
		{"", "items", "public.items"},
		{"", "Customers", ""}, // case-sensitive: the caller folds
		{"", "countries", "public.countries"},
	}
	for _, l := range lookups {
		tbl, ok := m.LookupTable(l.schema, l.name)
		got := ""
		if ok {
			got = tbl.QualifiedName()
		}
		if got != l.want {
			t.Errorf("LookupTable(%q, %q) = %q, want %q", l.schema, l.name, got, l.want)
		}
	}
	if tbl, _ := m.LookupTable("", "countries"); !tbl.Reference || tbl.Distribution != nil {
		t.Errorf("countries is a reference table: %+v", tbl)
	}
	if tbl := m.Tables["sales.orders"]; tbl.Distribution != m.Distributions["by_customer"] || tbl.Key != "customer_id" {
		t.Errorf("sales.orders: %+v", tbl)
	}

	min, err := Parse([]byte("version: 1\nclusters: {only: {primary: 'postgres://h/db'}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if min.DefaultClusterName() != "only" {
		t.Errorf("without default_cluster the first cluster is the default, got %q", min.DefaultClusterName())
	}
	if _, ok := min.LookupTable("", "anything"); ok {
		t.Error("a map without tables finds none")
	}
}

func TestReplicaWeightsDefaultToOne(t *testing.T) {
	m, err := Parse([]byte(`{"version": 1, "clusters": {"c": {"primary": "postgres://p/db",
		"replicas": [{"url": "postgres://r1/db"}, {"url": "postgresql://r2/db", "weight": 0}, {"url": "postgres://r3/db", "weight": 5}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Replica{{"postgres://r1/db", 1}, {"postgresql://r2/db", 0}, {"postgres://r3/db", 5}}
	if got := m.Clusters["c"].Replicas; !slices.Equal(got, want) {
		t.Errorf("replicas = %v, want %v", got, want)
	}
}

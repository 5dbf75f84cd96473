package main

import (
	"fmt"
	"strings"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// clustersBlock lists s0..s(n-1) with placeholder primaries, and a
// placeholder coordinator: sqlrouter dev replaces them with its own
// servers (same names, same order), and the harness only needs the names
// to place rows and plan statements.
func clustersBlock(n int) (block string, names []string) {
	var b strings.Builder
	for i := range n {
		names = append(names, fmt.Sprintf("s%d", i))
		fmt.Fprintf(&b, "  s%d: {primary: \"postgres://postgres@127.0.0.1:%d/app\"}\n", i, 1+i)
	}
	b.WriteString("coordinator: \"postgres://postgres@127.0.0.1:9/app\"\n")
	return b.String(), names
}

// pgbenchMap distributes pgbench_accounts by aid over two clusters.
// pgbench_history is distributed by aid too, co-located with the account
// each row is about, so that the TPC-B INSERT lands where the account's
// UPDATE ran; pgbench_branches and pgbench_tellers are reference tables
// (a copy on every cluster, every write to all copies).
func pgbenchMap(shards int) string {
	block, names := clustersBlock(shards)
	return fmt.Sprintf(`# The pgbench tables for sqlbench (bench/README.md).
version: 1
clusters:
%sdefault_cluster: s0
distributions:
  by_aid:
    type: hash
    key_type: int
    shards: [%s]
tables:
  pgbench_accounts: {distribution: by_aid, key: aid}
  pgbench_history:  {distribution: by_aid, key: aid}
  pgbench_branches: {reference: true}
  pgbench_tellers:  {reference: true}
`, block, strings.Join(names, ", "))
}

// fanoutMap distributes the fan-out and bulk tables by id.
func fanoutMap(shards int) string {
	block, names := clustersBlock(shards)
	return fmt.Sprintf(`# The fan-out and bulk-load tables for sqlbench (bench/README.md).
version: 1
clusters:
%sdefault_cluster: s0
distributions:
  by_id:
    type: hash
    key_type: bigint
    shards: [%s]
tables:
  fanout_items: {distribution: by_id, key: id}
  copy_items:   {distribution: by_id, key: id}
`, block, strings.Join(names, ", "))
}

// placer maps a key to the index of the cluster (0 for s0...) that owns
// it, with the same shardmap code the router uses.
type placer struct {
	dist  *shardmap.Distribution
	index map[string]int
}

func newPlacer(doc, distribution string) (*placer, error) {
	m, err := shardmap.Parse([]byte(doc))
	if err != nil {
		return nil, err
	}
	d, ok := m.Distributions[distribution]
	if !ok {
		return nil, fmt.Errorf("no distribution %q", distribution)
	}
	p := &placer{dist: d, index: map[string]int{}}
	for i, name := range m.ClusterNames {
		p.index[name] = i
	}
	return p, nil
}

// shardOf returns the index of the cluster owning integer key k.
func (p *placer) shardOf(k int64) int {
	return p.index[p.dist.ClusterForHash(shardmap.HashKey(shardmap.IntKey(k)))]
}

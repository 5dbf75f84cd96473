package shardmap

import (
	"errors"
	"fmt"
	"sort"
)

// ErrNoCluster is returned (wrapped, with the key and the distribution)
// by Distribution.ClusterFor when no cluster owns a key: a value in a gap
// between the ranges of a range distribution, or a value of a list
// distribution that no list holds and that has no default. A statement
// that needs that key cannot be routed.
var ErrNoCluster = errors.New("no cluster owns the key")

// ErrKeyKind is returned (wrapped) by ClusterFor when the key's kind does
// not fit the distribution's key type (e.g. a text key for a bigint
// distribution).
var ErrKeyKind = errors.New("key does not match the distribution's key type")

// Distribution is a co-location group: every table that names it places
// rows with equal keys on the same cluster.
type Distribution struct {
	// Name is the distribution's name in the document.
	Name string
	// Type says how rows are placed: hash, range or list.
	Type DistType
	// KeyType is the PostgreSQL type of the key column of every table of
	// the distribution.
	KeyType KeyType
	// HashRanges (hash only) cover the whole signed 64-bit hash space,
	// sorted, without gaps or overlaps.
	HashRanges []HashRange
	// HashShortForm (hash only) is true when the document used the short
	// form `shards: [a, b, ...]`, i.e. HashRanges is EvenHashRanges of it.
	HashShortForm bool
	// Ranges (range only) are the key ranges in ascending order; gaps are
	// allowed.
	Ranges []KeyRange
	// Lists (list only) are the value lists in document order.
	Lists []ValueList
	// Default (list only) receives values no list holds; "" for none.
	Default string

	clusters  []string
	listIndex map[Key]string
}

// HashRange is the slice [Min, Max] (both inclusive) of the signed 64-bit
// hash space that Cluster owns. The document's [hash_from, hash_to) maps
// to Min = hash_from (math.MinInt64 when null) and Max = hash_to - 1
// (math.MaxInt64 when null).
type HashRange struct {
	Cluster  string
	Min, Max int64
}

// KeyRange is the range [From, To) of key values that Cluster owns; a nil
// bound is unbounded.
type KeyRange struct {
	Cluster  string
	From, To *Key
}

// ValueList is one entry of a list distribution: the values Cluster owns.
type ValueList struct {
	Cluster string
	Values  []Key
}

// Clusters lists the distinct clusters the distribution can place rows
// on, in document order (for a list distribution, the default last).
func (d *Distribution) Clusters() []string { return d.clusters }

// ClusterFor names the cluster that owns key k. Hash: the range holding
// HashKey(k). Range: the [from, to) holding k. List: the list holding k,
// else the default. When no cluster owns k the error wraps ErrNoCluster.
func (d *Distribution) ClusterFor(k Key) (string, error) {
	if k.Kind() != d.KeyType.Kind() {
		return "", fmt.Errorf("distribution %q (%s): %w", d.Name, d.KeyType, ErrKeyKind)
	}
	switch d.Type {
	case DistHash:
		return d.ClusterForHash(HashKey(k)), nil
	case DistRange:
		// The first range whose upper bound is above k; it owns k unless
		// k lies below its lower bound (a gap).
		i := sort.Search(len(d.Ranges), func(i int) bool {
			to := d.Ranges[i].To
			return to == nil || k.Compare(*to) < 0
		})
		if i < len(d.Ranges) {
			r := d.Ranges[i]
			if r.From == nil || k.Compare(*r.From) >= 0 {
				return r.Cluster, nil
			}
		}
	case DistList:
		if c, ok := d.listIndex[k]; ok {
			return c, nil
		}
		if d.Default != "" {
			return d.Default, nil
		}
	}
	return "", fmt.Errorf("distribution %q: key %s: %w", d.Name, k, ErrNoCluster)
}

// ClusterForHash names the cluster whose hash range holds h (hash
// distributions only; "" otherwise).
func (d *Distribution) ClusterForHash(h int64) string {
	i := sort.Search(len(d.HashRanges), func(i int) bool { return d.HashRanges[i].Max >= h })
	if i < len(d.HashRanges) {
		return d.HashRanges[i].Cluster
	}
	return ""
}

package shardmap_test

import (
	"strings"
	"testing"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// Benchmarks of key hashing and key-to-cluster lookup, the per-row and
// per-statement cost of placing a key. Run them with
//
//	go test -run '^$' -bench . -benchmem ./shardmap
//
// CI runs them with -benchtime=1x so that they cannot rot.

// hashSink keeps the compiler from dropping the hash computations.
var hashSink int64

// BenchmarkHashKey hashes one key of every key type with PostgreSQL's
// extended hash (seed 0), through the Key value the router builds.
func BenchmarkHashKey(b *testing.B) {
	uuid := [16]byte{0x6f, 0x1d, 0x2a, 0x44, 0x90, 0x3b, 0x4e, 0x8c, 0xa1, 0x07, 0x3c, 0x5e, 0x2b, 0x9d, 0x11, 0xf0}
	keys := []struct {
		name string
		key  shardmap.Key
	}{
		{"smallint", shardmap.IntKey(1234)},
		{"int", shardmap.IntKey(123456789)},
		{"bigint", shardmap.IntKey(-9_000_000_000_000)},
		{"text8", shardmap.TextKey("customer")},
		{"text64", shardmap.TextKey(strings.Repeat("abcdefgh", 8))},
		{"uuid", shardmap.UUIDKey(uuid)},
	}
	for _, k := range keys {
		b.Run(k.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				hashSink += shardmap.HashKey(k.key)
			}
		})
	}
}

// BenchmarkHashInt hashes integers with the per-width functions, as a
// shard computes hashint2/4/8extended.
func BenchmarkHashInt(b *testing.B) {
	b.Run("int2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			hashSink += shardmap.HashInt2Extended(1234, 0)
		}
	})
	b.Run("int4", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			hashSink += shardmap.HashInt4Extended(123456789, 0)
		}
	})
	b.Run("int8", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			hashSink += shardmap.HashInt8Extended(-9_000_000_000_000, 0)
		}
	})
}

// lookupMap has one distribution of every type over four clusters.
const lookupMap = `
version: 1
clusters:
  s0: {primary: "postgres://app@127.0.0.1:5433/app"}
  s1: {primary: "postgres://app@127.0.0.1:5434/app"}
  s2: {primary: "postgres://app@127.0.0.1:5435/app"}
  s3: {primary: "postgres://app@127.0.0.1:5436/app"}
distributions:
  by_id:   {type: hash, key_type: bigint, shards: [s0, s1, s2, s3]}
  by_name: {type: hash, key_type: text, shards: [s0, s1, s2, s3]}
  by_time:
    type: range
    key_type: bigint
    ranges:
      - {cluster: s0, from: null, to: 1000}
      - {cluster: s1, from: 1000, to: 2000}
      - {cluster: s2, from: 2000, to: 3000}
      - {cluster: s3, from: 3000, to: null}
  by_region:
    type: list
    key_type: text
    lists:
      - {cluster: s0, values: [us, ca]}
      - {cluster: s1, values: [eu]}
      - {cluster: s2, values: [jp, kr]}
    default: s3
tables:
  a: {distribution: by_id, key: id}
  b: {distribution: by_name, key: name}
  c: {distribution: by_time, key: ts}
  d: {distribution: by_region, key: region}
`

// clusterSink keeps the lookups alive.
var clusterSink string

// BenchmarkClusterFor places one key with each distribution type.
func BenchmarkClusterFor(b *testing.B) {
	m, err := shardmap.Parse([]byte(lookupMap))
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		dist string
		key  shardmap.Key
	}{
		{"by_id", shardmap.IntKey(424242)},
		{"by_name", shardmap.TextKey("customer-42")},
		{"by_time", shardmap.IntKey(2500)},
		{"by_region", shardmap.TextKey("eu")},
	}
	for _, c := range cases {
		d := m.Distributions[c.dist]
		b.Run(string(d.Type)+"/"+string(d.KeyType), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cl, err := d.ClusterFor(c.key)
				if err != nil {
					b.Fatal(err)
				}
				clusterSink = cl
			}
		})
	}
}

// BenchmarkParseKey reads a key from its text form, as the router does for
// a literal or a text-format Bind parameter.
func BenchmarkParseKey(b *testing.B) {
	cases := []struct {
		typ  shardmap.KeyType
		text string
	}{
		{shardmap.KeyTypeBigint, "9000000000000"},
		{shardmap.KeyTypeInt, "123456"},
		{shardmap.KeyTypeText, "customer-42"},
		{shardmap.KeyTypeUUID, "6f1d2a44-903b-4e8c-a107-3c5e2b9d11f0"},
	}
	for _, c := range cases {
		b.Run(string(c.typ), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				k, err := shardmap.ParseKey(c.typ, c.text)
				if err != nil {
					b.Fatal(err)
				}
				hashSink += int64(k.Kind())
			}
		})
	}
}

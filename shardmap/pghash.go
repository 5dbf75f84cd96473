package shardmap

import "math/bits"

// This file reimplements, bit for bit, the extended (64-bit) hash
// functions of PostgreSQL 15 that hash partitioning and the sqlrouter hash
// distributions rely on:
//
//   - hash_bytes_extended and hash_bytes_uint32_extended
//     (src/common/hashfn.c): Bob Jenkins' lookup3 with a 64-bit seed,
//     returning b<<32 | c;
//   - hashint2extended, hashint4extended, hashint8extended,
//     hashtextextended (src/backend/access/hash/hashfunc.c) and
//     uuid_hash_extended (src/backend/utils/adt/uuid.c).
//
// Byte order: lookup3 reads the key four bytes at a time as native
// uint32 words, so PostgreSQL's text and uuid hashes differ between
// little- and big-endian servers. We always read little-endian, which
// matches PostgreSQL on amd64 and arm64 (every platform we deploy on). The
// integer hashes do not depend on byte order.

// lookup3InitBias is the constant lookup3 adds to the initial state, plus
// PostgreSQL's own extra offset.
const lookup3InitBias = 0x9e3779b9 + 3923095

func lookup3Mix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= c
	a ^= bits.RotateLeft32(c, 4)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 6)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 8)
	b += a
	a -= c
	a ^= bits.RotateLeft32(c, 16)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 19)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 4)
	b += a
	return a, b, c
}

func lookup3Final(a, b, c uint32) (uint32, uint32, uint32) {
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return a, b, c
}

// seedState perturbs the initial state with a non-zero seed, treating the
// seed as a 12-byte chunk of data padded with zeroes.
func seedState(a, b, c uint32, seed uint64) (uint32, uint32, uint32) {
	if seed == 0 {
		return a, b, c
	}
	a += uint32(seed >> 32)
	b += uint32(seed)
	return lookup3Mix(a, b, c)
}

// HashBytesExtended is PostgreSQL's hash_bytes_extended(k, len(k), seed)
// as computed on a little-endian server.
func HashBytesExtended(k []byte, seed uint64) uint64 { return hashBytes(k, seed) }

// le32 reads four bytes little-endian, as lookup3's word fetches do on a
// little-endian machine.
func le32[T string | []byte](k T) uint32 {
	return uint32(k[0]) | uint32(k[1])<<8 | uint32(k[2])<<16 | uint32(k[3])<<24
}

// hashBytes is generic so that text keys hash without a copy.
func hashBytes[T string | []byte](k T, seed uint64) uint64 {
	a := lookup3InitBias + uint32(len(k))
	b, c := a, a
	a, b, c = seedState(a, b, c, seed)

	for len(k) >= 12 {
		a += le32(k[0:])
		b += le32(k[4:])
		c += le32(k[8:])
		a, b, c = lookup3Mix(a, b, c)
		k = k[12:]
	}
	// The last 0..11 bytes fill a, then b, then c from its second byte on:
	// the lowest byte of c is reserved for the length (already added).
	var tail [12]byte
	copy(tail[:], k)
	if len(k) > 0 {
		a += le32(tail[0:])
	}
	if len(k) > 4 {
		b += le32(tail[4:])
	}
	if len(k) > 8 {
		c += le32(tail[8:]) << 8
	}
	_, b, c = lookup3Final(a, b, c)
	return uint64(b)<<32 | uint64(c)
}

// HashUint32Extended is PostgreSQL's hash_bytes_uint32_extended(k, seed).
func HashUint32Extended(k uint32, seed uint64) uint64 {
	a := uint32(lookup3InitBias + 4)
	b, c := a, a
	a, b, c = seedState(a, b, c, seed)
	a += k
	_, b, c = lookup3Final(a, b, c)
	return uint64(b)<<32 | uint64(c)
}

// HashInt2Extended is hashint2extended(v, seed).
func HashInt2Extended(v int16, seed uint64) int64 {
	return int64(HashUint32Extended(uint32(int32(v)), seed))
}

// HashInt4Extended is hashint4extended(v, seed).
func HashInt4Extended(v int32, seed uint64) int64 {
	return int64(HashUint32Extended(uint32(v), seed))
}

// HashInt8Extended is hashint8extended(v, seed). The high half is folded
// into the low half (complemented for negative values) so that a value
// that fits in int4 hashes exactly as hashint4extended does: equal values
// of int2, int4 and int8 hash alike, which cross-type hash joins need.
func HashInt8Extended(v int64, seed uint64) int64 {
	lo := uint32(v)
	hi := uint32(uint64(v) >> 32)
	if v >= 0 {
		lo ^= hi
	} else {
		lo ^= ^hi
	}
	return int64(HashUint32Extended(lo, seed))
}

// HashTextExtended is hashtextextended(s, seed) under a deterministic
// collation (the default, "C", or any libc collation): the hash of the
// string's bytes in the database encoding.
func HashTextExtended(s string, seed uint64) int64 {
	return int64(hashBytes(s, seed))
}

// HashUUIDExtended is uuid_hash_extended(u, seed): the hash of the 16 bytes.
func HashUUIDExtended(u [16]byte, seed uint64) int64 {
	return int64(HashBytesExtended(u[:], seed))
}

// HashKey is the value PostgreSQL returns for the key's type-specific
// extended hash with seed 0 (e.g. hashint8extended(5, 0)); it decides the
// owner of a key in a hash distribution. Integer keys of any width use
// hashint8extended, which agrees with hashint2extended/hashint4extended on
// every value those types can hold. The zero Key hashes to 0.
func HashKey(k Key) int64 {
	switch k.kind {
	case KindInt:
		return HashInt8Extended(k.i, 0)
	case KindText:
		return HashTextExtended(k.s, 0)
	case KindUUID:
		return int64(hashBytes(k.s, 0))
	}
	return 0
}

package shardmap

// DistType is how a distribution places rows: hash, range or list.
type DistType string

// The distribution types a document may name.
const (
	DistHash  DistType = "hash"
	DistRange DistType = "range"
	DistList  DistType = "list"
)

// KeyType is the PostgreSQL type of a distribution key column.
type KeyType string

// The key types a document may name, spelled as in the document.
const (
	KeyTypeSmallint KeyType = "smallint"
	KeyTypeInt      KeyType = "int"
	KeyTypeBigint   KeyType = "bigint"
	KeyTypeText     KeyType = "text"
	KeyTypeUUID     KeyType = "uuid"
)

// Valid reports whether t is one of the known distribution types.
func (t DistType) Valid() bool {
	switch t {
	case DistHash, DistRange, DistList:
		return true
	}
	return false
}

// Valid reports whether t is one of the known key types.
func (t KeyType) Valid() bool {
	switch t {
	case KeyTypeSmallint, KeyTypeInt, KeyTypeBigint, KeyTypeText, KeyTypeUUID:
		return true
	}
	return false
}

// Kind is the family of Key values a column of type t holds.
func (t KeyType) Kind() KeyKind {
	switch t {
	case KeyTypeSmallint, KeyTypeInt, KeyTypeBigint:
		return KindInt
	case KeyTypeText:
		return KindText
	case KeyTypeUUID:
		return KindUUID
	}
	return KindInvalid
}

// PGName is the name of the type in PostgreSQL's catalog (int2, int4, ...),
// handy when building SQL such as casts.
func (t KeyType) PGName() string {
	switch t {
	case KeyTypeSmallint:
		return "int2"
	case KeyTypeInt:
		return "int4"
	case KeyTypeBigint:
		return "int8"
	case KeyTypeText:
		return "text"
	case KeyTypeUUID:
		return "uuid"
	}
	return ""
}

// MessageName is the name PostgreSQL gives the type in error messages
// (smallint, integer, bigint, text, uuid).
func (t KeyType) MessageName() string {
	switch t {
	case KeyTypeSmallint:
		return "smallint"
	case KeyTypeInt:
		return "integer"
	case KeyTypeBigint:
		return "bigint"
	}
	return string(t)
}

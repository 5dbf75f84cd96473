package shardmap

import (
	"fmt"
	"os"
)

// Load reads and validates the shard map document in the file at path.
// It returns the map and the document's bytes; a validation failure
// wraps *ValidationError.
func Load(path string) (*Map, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("shardmap: %w", err)
	}
	m, err := Parse(raw)
	if err != nil {
		return nil, raw, fmt.Errorf("shardmap: %s:\n%w", path, err)
	}
	return m, raw, nil
}

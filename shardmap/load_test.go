package shardmap

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestLoad(t *testing.T) {
	m, raw, err := Load("../schemas/examples/example.yaml")
	if err != nil || m == nil || len(raw) == 0 {
		t.Fatalf("Load(example) = %v, %d bytes, %v", m, len(raw), err)
	}
	if _, _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(invalidDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	var ve *ValidationError
	if _, _, err := Load(bad); !errors.As(err, &ve) || len(ve.Issues) != 1 || ve.Issues[0].Path != "tables.items.distribution" {
		t.Errorf("Load(invalid) = %v, want one issue at tables.items.distribution", err)
	}
}

package nodegen

import (
	"bytes"
	"os"
	"testing"
)

// The checked-in file must be what the generator writes for the pg_query
// version in go.mod.
func TestWalkGenUpToDate(t *testing.T) {
	want, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../walk_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("planner/walk_gen.go is out of date: run go generate ./planner")
	}
}

package planner

import (
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// reflectChildren lists the message fields of msg that are set, in
// declaration order, by protoreflect. (Range would do, but protobuf-go
// swaps two neighbouring fields of some messages on purpose, differently
// from one build to the next.)
func reflectChildren(msg proto.Message) []proto.Message {
	var out []proto.Message
	m := msg.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() || !m.Has(fd) {
			continue
		}
		add := func(c proto.Message) {
			if n, ok := c.(*pg_query.Node); ok {
				nm := n.ProtoReflect()
				if fd := nm.WhichOneof(nodeOneof); fd != nil {
					c = nm.Get(fd).Message().Interface()
				} else {
					c = nil
				}
			}
			out = append(out, c)
		}
		v := m.Get(fd)
		if fd.IsList() {
			for i := range v.List().Len() {
				add(v.List().Get(i).Message().Interface())
			}
			continue
		}
		add(v.Message().Interface())
	}
	return out
}

// The generated walker visits the same children as protoreflect, in
// declaration order, in every tree of the corpus.
func TestGeneratedWalkMatchesReflection(t *testing.T) {
	checked := 0
	for _, cq := range loadCorpus(t) {
		tree, err := pg_query.Parse(cq.sql)
		if err != nil {
			continue
		}
		var check func(m proto.Message)
		check = func(m proto.Message) {
			if m == nil {
				return
			}
			want := reflectChildren(m)
			var got []proto.Message
			forEachChild(m, func(c proto.Message) { got = append(got, c) })
			if len(got) != len(want) {
				t.Fatalf("%s: %T: %d children, want %d", cq.where, m, len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s: %T child %d: %T, want %T", cq.where, m, i, got[i], want[i])
				}
			}
			checked++
			for _, c := range want {
				check(c)
			}
		}
		check(tree)
	}
	if checked < 1000 {
		t.Fatalf("only %d messages checked", checked)
	}
}

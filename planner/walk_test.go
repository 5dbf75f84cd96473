package planner

import (
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// The generated walker visits the same children as protoreflect, in
// declaration order, in every tree of the corpus. (protoreflect's Range
// would do, but protobuf-go swaps two neighbouring fields of some messages
// on purpose, differently from one build to the next.)
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
			var got, want []proto.Message
			forEachChild(m, func(c proto.Message) { got = append(got, c) })
			visitFields(m, &childVisitor{msg: func(c proto.Message) { want = append(want, c) }})
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

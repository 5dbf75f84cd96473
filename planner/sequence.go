package planner

import (
	"fmt"
	"strings"
)

// Sequence runs the statements one statement on a vertically partitioned
// table becomes, one per group, in order, in one transaction: atomic, with
// two-phase commit when they span clusters. The client gets the command
// tag of the first step (each group holds every row, so every step counts
// the same rows) and the rows of the step that returns them.
type Sequence struct {
	SQL   string
	Steps []SequenceStep
	// Returning is the step whose rows the client gets, -1 for none.
	Returning int
}

// SequenceStep is one statement of a Sequence.
type SequenceStep struct {
	// What says what the step does, for EXPLAIN.
	What string
	// Plan is a *Route, *SplitInsert, *Broadcast or *FanOut, with its own
	// SQL.
	Plan Plan
	// Params maps the step's parameter $i+1 to the statement's Params[i].
	Params []int
}

func (s *Sequence) explain(b *strings.Builder) {
	fmt.Fprintf(b, "Sequence (%d statements, atomic)\n", len(s.Steps))
	for _, st := range s.Steps {
		fmt.Fprintf(b, "  %s:\n", st.What)
		for _, line := range strings.Split(Explain(st.Plan), "\n") {
			b.WriteString("    " + line + "\n")
		}
		fmt.Fprintf(b, "    %s\n", st.SQL())
	}
}

// SQL is the text the step runs.
func (st SequenceStep) SQL() string {
	switch p := st.Plan.(type) {
	case *Route:
		return p.SQL
	case *Broadcast:
		return p.SQL
	case *SplitInsert:
		return p.SQL
	case *FanOut:
		return p.SQL
	}
	return ""
}

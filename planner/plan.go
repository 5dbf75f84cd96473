package planner

import (
	"fmt"
	"strings"
)

// Plan is what the router does for one statement. Plans are immutable and
// shared between sessions through the plan cache.
type Plan interface {
	// explain writes the plan as EXPLAIN and the golden tests show it.
	explain(b *strings.Builder)
}

// Explain prints a plan.
func Explain(p Plan) string {
	var b strings.Builder
	p.explain(&b)
	return strings.TrimRight(b.String(), "\n")
}

// Statement is one statement of a Query message (or the only statement of a
// prepared statement) with its plan.
type Statement struct {
	// SQL is the statement's own text.
	SQL string
	// CharOffset is the number of characters before SQL in the message's
	// text, to translate error positions reported by a shard.
	CharOffset int
	// Consistency is the read consistency a comment in the statement asks
	// for (/* sqlrouter.read_consistency=eventual */), "" for none.
	Consistency string
	// TempObjects is set when the statement creates temporary tables,
	// sequences or views: they live in the session's backend on the
	// primary, so the session's reads stay on the primaries from then on.
	TempObjects bool
	// SessionState is set when the statement leaves state in the backend
	// session beyond its transaction (temporary objects, session advisory
	// locks, LISTEN, set_config(..., false)): the client's backend
	// sessions are then no longer shared with other clients.
	SessionState bool
	// Plan is what to do.
	Plan Plan
	// Rewritten is set when SQL is the planner's rewrite of the client's
	// text (a statement on a vertically partitioned table): clusters get
	// SQL, not the text the client prepared.
	Rewritten bool
}

// Empty is an empty query (only whitespace, comments or semicolons).
type Empty struct{}

func (*Empty) explain(b *strings.Builder) { b.WriteString("Empty\n") }

// Route runs the statement's text unchanged on one cluster.
type Route struct {
	SQL    string
	Target Target
	// Write is true for statements that change data or schema.
	Write bool
	// ReadOnly is true for reads a replica may answer: no write, no row
	// lock, no function that might write.
	ReadOnly bool
	// DeclareCursor names the cursor a DECLARE opens, so later FETCH, MOVE
	// and CLOSE go where it lives.
	DeclareCursor string
	// CopyIn is set for COPY FROM STDIN: the client's data follows, so
	// nothing may be pipelined behind the statement.
	CopyIn bool
	// Spread, for a statement whose clusters depend on parameters, is the
	// plan for an execution whose keys land on several clusters.
	Spread Plan
	// KeyMove, for an UPDATE that assigns the distribution key, is checked
	// at each execution: the new key must belong on the same cluster.
	KeyMove *KeyMove

	// rewritten is set when SQL is a rewrite of the statement (a
	// vertically partitioned table's groups), to run instead of its text.
	rewritten bool
}

// Cluster returns the one cluster an execution runs on, or an error when
// it would need several or would move rows between clusters.
func (r *Route) Cluster(p Params) (string, error) {
	c, err := r.Target.ResolveOne(p)
	if err != nil || r.KeyMove == nil {
		return c, err
	}
	return c, r.KeyMove.check(c, p)
}

func (r *Route) explain(b *strings.Builder) {
	kind := "Route"
	if r.Write {
		kind = "Route (write)"
	}
	fmt.Fprintf(b, "%s: %s\n", kind, r.Target.String())
	if r.DeclareCursor != "" {
		fmt.Fprintf(b, "  declares cursor %s\n", r.DeclareCursor)
	}
	if r.KeyMove != nil {
		fmt.Fprintf(b, "  the new key %s = %s must stay on the cluster\n", r.KeyMove.Table.Key, r.KeyMove.Value)
	}
	if r.Spread != nil {
		b.WriteString("  when the parameters choose several clusters:\n")
		for _, line := range strings.Split(Explain(r.Spread), "\n") {
			b.WriteString("    " + line + "\n")
		}
	}
}

// Broadcast runs the statement's text unchanged on every listed cluster,
// atomically when Transactional (DDL, writes to reference tables), else one
// cluster after another outside a transaction (VACUUM). A transactional
// broadcast runs on the first cluster before the others, so that
// concurrent writers of the same rows queue up on one copy.
type Broadcast struct {
	SQL           string
	Clusters      []string
	Transactional bool
	// Reason says why every cluster gets it, for EXPLAIN.
	Reason string
	// Coordinator is set for DDL of objects queries may use (types,
	// functions, schemas, extensions): the coordinator gets it too, so
	// that it can finish statements that use them.
	Coordinator bool
	// Command names a statement that cannot run in a transaction block
	// (CREATE INDEX CONCURRENTLY), for the error PostgreSQL gives.
	Command string
	// Sequences, for DDL that may create sequences, says which ones each
	// cluster's copy must give its range of values (package idrange).
	Sequences *SequenceScope
	// DataWrite is set for a write to a reference table (the others are
	// DDL).
	DataWrite bool

	rewritten bool
}

// SequenceScope names the sequences a DDL statement may create: those a
// table owns (serial and identity columns), or one by name. Names are
// quoted and qualified.
type SequenceScope struct {
	Table, Sequence string
}

func (p *Broadcast) explain(b *strings.Builder) {
	mode := "atomic, " + p.Clusters[0] + " first"
	if !p.Transactional {
		mode = "one by one, no transaction"
	}
	fmt.Fprintf(b, "Broadcast (%s): %s\n  %s\n", mode, strings.Join(p.Clusters, ", "), p.Reason)
	switch {
	case p.Sequences == nil:
	case p.Sequences.Table != "":
		fmt.Fprintf(b, "  then each cluster's sequences of %s get its id range\n", p.Sequences.Table)
	default:
		fmt.Fprintf(b, "  then each cluster's copy of %s gets its id range\n", p.Sequences.Sequence)
	}
}

// CursorCommand is FETCH, MOVE or CLOSE of a cursor: it runs where the
// cursor was declared.
type CursorCommand struct {
	SQL string
	// Name is the cursor's name; "" with All for CLOSE ALL.
	Name string
	All  bool
	// Close is true for CLOSE.
	Close bool
}

func (p *CursorCommand) explain(b *strings.Builder) {
	if p.All {
		b.WriteString("Close every cursor\n")
		return
	}
	fmt.Fprintf(b, "Cursor %s: where it was declared\n", p.Name)
}

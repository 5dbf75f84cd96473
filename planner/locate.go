package planner

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// Locate runs a statement about objects whose names do not say which
// table they belong to (indexes, sequences): the executor asks every
// cluster which of them exist there (to_regclass, under the session's
// search_path) and runs the statement on the clusters that have them
// all, atomically unless Transactional is false (DROP INDEX
// CONCURRENTLY, one cluster after another). When no cluster has them,
// the default cluster runs it and answers as PostgreSQL does (an error,
// or the notice of IF EXISTS).
type Locate struct {
	SQL string
	// Objects are the names to look up, quoted and qualified as written.
	Objects []string
	// What names the kind of object, for EXPLAIN and messages.
	What          string
	Transactional bool
	// Command names the statement in the error PostgreSQL gives when it
	// cannot run in a transaction block.
	Command string
	// Sequences, for ALTER SEQUENCE, gives each cluster's copy its id
	// range afterwards (copies that have it already are left alone), so
	// that a copy made outside the router (pg_dump to a new cluster) gets
	// its cluster's range.
	Sequences *SequenceScope
}

func (l *Locate) explain(b *strings.Builder) {
	mode := "atomic"
	if !l.Transactional {
		mode = "one by one, no transaction"
	}
	fmt.Fprintf(b, "Locate (%s): every cluster that has %s %s\n", mode, l.What, strings.Join(l.Objects, ", "))
	if l.Sequences != nil {
		fmt.Fprintf(b, "  then each cluster's copy of %s gets its id range\n", l.Sequences.Sequence)
	}
}

// planLocate returns a Locate for statements that name indexes or
// sequences by themselves, or nil.
func planLocate(stmt proto.Message, sql string) *Locate {
	var names [][]string
	what := ""
	concurrent := false
	kind := func(t pg_query.ObjectType) bool {
		switch t {
		case pg_query.ObjectType_OBJECT_INDEX:
			what = "index"
		case pg_query.ObjectType_OBJECT_SEQUENCE:
			what = "sequence"
		default:
			return false
		}
		return true
	}
	rangeVar := func(rv *pg_query.RangeVar) []string {
		if rv.Schemaname != "" {
			return []string{rv.Schemaname, rv.Relname}
		}
		return []string{rv.Relname}
	}
	switch s := stmt.(type) {
	case *pg_query.DropStmt:
		if !kind(s.RemoveType) {
			return nil
		}
		concurrent = s.Concurrent
		for _, o := range s.Objects {
			if l, ok := unwrap(o).(*pg_query.List); ok {
				names = append(names, nameList(l.Items))
			}
		}
	case *pg_query.AlterTableStmt:
		if !kind(s.Objtype) || s.Relation == nil {
			return nil
		}
		names = append(names, rangeVar(s.Relation))
	case *pg_query.RenameStmt:
		if !kind(s.RenameType) || s.Relation == nil {
			return nil
		}
		names = append(names, rangeVar(s.Relation))
	case *pg_query.AlterSeqStmt:
		l := &Locate{SQL: sql, What: "sequence", Transactional: true, Objects: []string{rangeVarName(s.Sequence)}}
		l.Sequences = &SequenceScope{Sequence: l.Objects[0]}
		return l
	case *pg_query.CommentStmt:
		if !kind(s.Objtype) {
			return nil
		}
		if l, ok := unwrap(s.Object).(*pg_query.List); ok {
			names = append(names, nameList(l.Items))
		}
	case *pg_query.GrantStmt:
		if s.Targtype != pg_query.GrantTargetType_ACL_TARGET_OBJECT || !kind(s.Objtype) {
			return nil
		}
		for _, o := range s.Objects {
			if rv, ok := unwrap(o).(*pg_query.RangeVar); ok {
				names = append(names, rangeVar(rv))
			}
		}
	default:
		return nil
	}
	if len(names) == 0 {
		return nil
	}
	l := &Locate{SQL: sql, What: what, Transactional: !concurrent}
	if concurrent {
		l.Command = "DROP INDEX CONCURRENTLY"
	}
	for _, n := range names {
		l.Objects = append(l.Objects, strings.Join(quotedNamesOf(n), "."))
	}
	return l
}

// quotedNamesOf quotes each part of a name.
func quotedNamesOf(parts []string) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
	}
	return out
}

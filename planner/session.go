package planner

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// TxnOp is a transaction-control command.
type TxnOp int

// The transaction-control commands the router handles itself.
const (
	TxnBegin TxnOp = iota + 1
	TxnCommit
	TxnRollback
	TxnSavepoint
	TxnRelease
	TxnRollbackTo
)

var txnOpNames = map[TxnOp]string{TxnBegin: "BEGIN", TxnCommit: "COMMIT", TxnRollback: "ROLLBACK", TxnSavepoint: "SAVEPOINT", TxnRelease: "RELEASE", TxnRollbackTo: "ROLLBACK TO SAVEPOINT"}

func (o TxnOp) String() string { return txnOpNames[o] }

// TxnControl is BEGIN, COMMIT, ROLLBACK or a savepoint command. The router
// runs it on every cluster the transaction touches.
type TxnControl struct {
	Op TxnOp
	// SQL is the client's text; for BEGIN it is replayed on each cluster
	// that joins the transaction, keeping isolation level and access mode.
	SQL string
	// Savepoint is the savepoint's name for the savepoint commands.
	Savepoint string
	// ReadOnly is set for BEGIN READ ONLY / START TRANSACTION READ ONLY.
	ReadOnly bool
}

func (t *TxnControl) explain(b *strings.Builder) {
	fmt.Fprintf(b, "Transaction control: %s", t.Op)
	if t.Savepoint != "" {
		fmt.Fprintf(b, " %s", t.Savepoint)
	}
	b.WriteString(" (on every cluster of the transaction)\n")
}

func planTransaction(s *pg_query.TransactionStmt, sql string) (Plan, error) {
	if s.Chain {
		return nil, pgerror.Unsupported("COMMIT AND CHAIN and ROLLBACK AND CHAIN are not supported").WithHint("Issue COMMIT, then BEGIN.")
	}
	t := &TxnControl{SQL: sql, Savepoint: s.SavepointName}
	switch s.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN, pg_query.TransactionStmtKind_TRANS_STMT_START:
		t.Op = TxnBegin
		for _, o := range s.Options {
			d, ok := unwrap(o).(*pg_query.DefElem)
			if !ok || d.Defname != "transaction_read_only" {
				continue
			}
			if c, ok := unwrap(d.Arg).(*pg_query.A_Const); ok {
				if iv, ok := c.Val.(*pg_query.A_Const_Ival); ok && iv.Ival.Ival == 1 {
					t.ReadOnly = true
				}
			}
		}
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:
		t.Op = TxnCommit
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		t.Op = TxnRollback
	case pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		t.Op = TxnSavepoint
	case pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:
		t.Op = TxnRelease
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		t.Op = TxnRollbackTo
	default:
		return nil, pgerror.Unsupported("PREPARE TRANSACTION, COMMIT PREPARED and ROLLBACK PREPARED are not supported: sqlrouter runs two-phase commit itself")
	}
	return t, nil
}

// SetKind says what a SET-like command does.
type SetKind int

// The kinds of SessionSet.
const (
	// SetSession changes a setting for the rest of the session (SET, RESET,
	// SET ... TO DEFAULT, SET SESSION CHARACTERISTICS).
	SetSession SetKind = iota + 1
	// SetLocal changes a setting until the end of the transaction (SET
	// LOCAL, SET TRANSACTION ...).
	SetLocal
	// ResetAll is RESET ALL.
	ResetAll
)

// SessionSet changes a session setting. The router applies it to every
// backend session the client uses, now and later.
type SessionSet struct {
	Kind SetKind
	// Name is the setting's name, lower case ("search_path"); for SET
	// TRANSACTION it is "transaction", for SET SESSION CHARACTERISTICS
	// "session characteristics".
	Name string
	// SQL is the command text, replayed on backend sessions.
	SQL string
	// Value is the new value as text, for settings the router reads itself
	// (search_path, sqlrouter.*); "" for RESET/DEFAULT.
	Value string
	// Reset is set for RESET and SET ... TO DEFAULT: the setting goes back
	// to its default. (An empty Value does not say so: SET search_path =
	// '' and SET SESSION CHARACTERISTICS have one too.)
	Reset bool
}

func (s *SessionSet) explain(b *strings.Builder) {
	fmt.Fprintf(b, "Session setting %s (on every backend session of the client)\n", s.Name)
}

// RouterSetting reports whether the setting belongs to the router itself
// (sqlrouter.*), which no backend ever sees.
func (s *SessionSet) RouterSetting() bool { return strings.HasPrefix(s.Name, "sqlrouter.") }

func planSet(s *pg_query.VariableSetStmt, sql string) (Plan, error) {
	p := &SessionSet{SQL: sql, Name: strings.ToLower(s.Name), Kind: SetSession}
	if s.IsLocal {
		p.Kind = SetLocal
	}
	switch s.Kind {
	case pg_query.VariableSetKind_VAR_SET_VALUE:
		p.Value = setValue(s.Args)
	case pg_query.VariableSetKind_VAR_SET_MULTI:
		switch p.Name {
		case "transaction":
			p.Kind = SetLocal
		case "session characteristics":
			p.Kind = SetSession
		default:
			return nil, pgerror.Unsupported("SET %s is not supported", strings.ToUpper(p.Name))
		}
	case pg_query.VariableSetKind_VAR_RESET, pg_query.VariableSetKind_VAR_SET_DEFAULT:
		p.Reset = true
	case pg_query.VariableSetKind_VAR_RESET_ALL:
		p.Kind = ResetAll
		p.Name = "all"
	case pg_query.VariableSetKind_VAR_SET_CURRENT:
		return nil, pgerror.Unsupported("SET ... FROM CURRENT is not supported")
	}
	if p.Name == "transaction snapshot" {
		return nil, pgerror.Unsupported("SET TRANSACTION SNAPSHOT is not supported: a snapshot belongs to one cluster")
	}
	// The router parses SQL and hashes text keys as UTF-8 with standard
	// conforming strings; a session that changes either would be routed by
	// a different reading of its text than the server's.
	switch p.Name {
	case "client_encoding":
		if p.Value != "" && !isUTF8Name(p.Value) {
			return nil, pgerror.Unsupported("client_encoding %s is not supported: sqlrouter speaks UTF8 only", p.Value)
		}
	case "standard_conforming_strings":
		if p.Value != "" && !isOn(p.Value) {
			return nil, pgerror.Unsupported("standard_conforming_strings = off is not supported")
		}
	}
	return p, nil
}

// setValue renders SET arguments back to the text SHOW would print.
func setValue(args []*pg_query.Node) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch c := unwrap(a).(type) {
		case *pg_query.A_Const:
			switch v := c.Val.(type) {
			case *pg_query.A_Const_Sval:
				parts = append(parts, v.Sval.Sval)
			case *pg_query.A_Const_Ival:
				parts = append(parts, fmt.Sprint(v.Ival.Ival))
			case *pg_query.A_Const_Fval:
				parts = append(parts, v.Fval.Fval)
			case *pg_query.A_Const_Boolval:
				parts = append(parts, fmt.Sprint(v.Boolval.Boolval))
			}
		case *pg_query.TypeCast:
			parts = append(parts, setValue([]*pg_query.Node{c.Arg}))
		}
	}
	return strings.Join(parts, ", ")
}

// IsUTF8Name reports whether an encoding name means UTF-8 to PostgreSQL.
func isUTF8Name(s string) bool {
	n := strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s))
	return n == "utf8" || n == "unicode"
}

func isOn(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "on", "true", "yes", "1", "t", "y":
		return true
	}
	return false
}

// ShowRouter is SHOW of a router setting (sqlrouter.*).
type ShowRouter struct{ Name string }

func (s *ShowRouter) explain(b *strings.Builder) {
	fmt.Fprintf(b, "Show router setting %s\n", s.Name)
}

// Discard is DISCARD: it resets backend sessions and the router's view of
// the client session.
type Discard struct {
	SQL string
	// All is DISCARD ALL (everything); otherwise PLANS, SEQUENCES or TEMP,
	// which only the backend sessions hold.
	All bool
	// Temp is set by DISCARD TEMP and DISCARD ALL: the session has no
	// temporary objects afterwards.
	Temp bool
}

func (d *Discard) explain(b *strings.Builder) {
	b.WriteString("Discard (on every backend session of the client)\n")
}

// Deallocate is DEALLOCATE [ALL]: SQL-level prepared statements never reach
// a backend through the router, so only DEALLOCATE ALL succeeds.
type Deallocate struct{ All bool }

func (d *Deallocate) explain(b *strings.Builder) { b.WriteString("Deallocate (router)\n") }

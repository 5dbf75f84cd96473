// Package pgerror is the one error type that carries a PostgreSQL SQLSTATE
// through the router, and the mapping from any error to the ErrorResponse a
// client sees. Every package raises its client-visible conditions as *Error;
// errors that arrive from a shard keep the shard's own fields.
package pgerror

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"
)

// SQLSTATE codes the router raises itself.
const (
	FeatureNotSupported       = "0A000"
	SyntaxError               = "42601"
	InvalidParameterValue     = "22023"
	InvalidTextRepresentation = "22P02"
	NumericValueOutOfRange    = "22003"
	CheckViolation            = "23514"
	InFailedTransaction       = "25P02"
	ActiveSQLTransaction      = "25001"
	NoActiveSQLTransaction    = "25P01"
	InvalidTransactionState   = "25000"
	InvalidSavepoint          = "3B001"
	UndefinedPreparedStmt     = "26000"
	UndefinedCursor           = "34000"
	DuplicatePreparedStmt     = "42P05"
	UndefinedObject           = "42704"
	UndefinedColumn           = "42703"
	UndefinedParameter        = "42P02"
	ProtocolViolation         = "08P01"
	ConnectionFailure         = "08006"
	CannotConnectNow          = "57P03"
	InvalidPassword           = "28P01"
	InvalidAuthorization      = "28000"
	TooManyConnections        = "53300"
	QueryCanceled             = "57014"
	AdminShutdown             = "57P01"
	InternalError             = "XX000"
	InvalidCursorName         = "34000"
	InvalidSQLStatementName   = "26000"
)

// Error is an error with a SQLSTATE, shaped like PostgreSQL's ErrorResponse.
type Error struct {
	Severity string // ERROR when empty
	Code     string
	Message  string
	Detail   string
	Hint     string
	Position int32 // 1-based character position in the statement, 0 = none
	// Response, when set, is the complete ErrorResponse a server sent; it is
	// relayed as is.
	Response *pgproto3.ErrorResponse
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%s (SQLSTATE %s): %s", e.Message, e.Code, e.Detail)
	}
	return fmt.Sprintf("%s (SQLSTATE %s)", e.Message, e.Code)
}

// New makes an error with a code and a formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Unsupported makes a 0A000 error; the message should name the construct.
func Unsupported(format string, args ...any) *Error {
	return &Error{Code: FeatureNotSupported, Message: fmt.Sprintf(format, args...)}
}

// WithHint returns e with a hint added.
func (e *Error) WithHint(format string, args ...any) *Error {
	e.Hint = fmt.Sprintf(format, args...)
	return e
}

// FromServer wraps an ErrorResponse that a PostgreSQL server sent. The
// message is copied, so it stays valid after the connection is reused.
func FromServer(msg *pgproto3.ErrorResponse) *Error {
	cp := *msg
	return &Error{Severity: cp.Severity, Code: cp.Code, Message: cp.Message, Detail: cp.Detail, Hint: cp.Hint, Position: cp.Position, Response: &cp}
}

// Code returns the SQLSTATE of err, or "" when err carries none.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// Response maps any error to the ErrorResponse a client sees. Errors without
// a SQLSTATE become XX000 (internal_error) with the error's text, or 08006
// when the text says a connection failed.
func Response(err error) *pgproto3.ErrorResponse {
	var e *Error
	if errors.As(err, &e) {
		if e.Response != nil {
			r := *e.Response
			return &r
		}
		sev := e.Severity
		if sev == "" {
			sev = "ERROR"
		}
		return &pgproto3.ErrorResponse{Severity: sev, SeverityUnlocalized: sev, Code: e.Code, Message: e.Message, Detail: e.Detail, Hint: e.Hint, Position: e.Position}
	}
	return &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: InternalError, Message: err.Error()}
}

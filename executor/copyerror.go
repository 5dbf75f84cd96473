package executor

import (
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Batches of PostgreSQL 15's COPY: rows are inserted (and unique indexes
// checked) when 1000 are buffered or their lines reach 64 kB.
const (
	copyBatchRows  = 1000
	copyBatchBytes = 65535
)

// batch counts a row into one server's current batch.
func (r *copyIn) batch(row copyRow) {
	r.batchRows++
	r.batchBytes += row.size
	if r.batchRows >= copyBatchRows || r.batchBytes >= copyBatchBytes {
		r.batches = append(r.batches, row.line)
		r.batchRows, r.batchBytes = 0, 0
	}
}

// deferredError reports errors a server raises when it inserts a batch
// of rows, not when it reads a row: unique and exclusion violations, and
// foreign keys (checked at the end).
func deferredError(code string) bool {
	return code == "23505" || code == "23P01" || code == "23503"
}

// errorTime is when one server reading the client's data would have
// raised an error about line: at once for most errors, at the end of the
// row's batch for deferred ones, at the end for errors about no line.
func (r *copyIn) errorTime(code string, line int64) int64 {
	const end = 1 << 62
	switch {
	case line <= 0:
		return end
	case !deferredError(code):
		return line
	}
	for _, b := range r.batches {
		if b >= line {
			return b
		}
	}
	return end - 1
}

// firstError picks the error the client gets: the one that one server
// reading the data in order would have raised first (see errorTime).
func (r *copyIn) firstError() *pgproto3.ErrorResponse {
	var best *pgproto3.ErrorResponse
	var bestTime, bestLine int64
	consider := func(e *pgproto3.ErrorResponse, line int64) {
		at := r.errorTime(e.Code, line)
		if best == nil || at < bestTime || (at == bestTime && line > 0 && line < bestLine) {
			best, bestTime, bestLine = e, at, line
		}
	}
	for _, t := range r.order {
		if t.err == nil {
			continue
		}
		line := errorLine(t.err)
		if line == 0 && t.openLine > 0 {
			line = t.openLine
		}
		consider(t.err, line)
	}
	if r.routerErr != nil {
		consider(copyErrorResponse(r.p.Table.Name, r.routerErr), r.routerErr.line)
	}
	if best == nil && r.suspect != nil {
		// The home cluster took a row the router could not read: refuse
		// rather than guess where it belongs.
		best = copyErrorResponse(r.p.Table.Name, r.suspect)
	}
	return best
}

// copyErrorResponse is the ErrorResponse for an error the router found in
// the data, with PostgreSQL's context line.
func copyErrorResponse(table string, e *copyError) *pgproto3.ErrorResponse {
	var where strings.Builder
	where.WriteString("COPY " + table + ", line " + strconv.FormatInt(e.line, 10))
	switch {
	case e.hasCol && e.null:
		where.WriteString(", column " + e.column + ": null input")
	case e.hasCol:
		where.WriteString(", column " + e.column + `: "` + limitPrintout(e.value) + `"`)
	}
	return &pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: e.code, Message: e.message, Hint: e.hint, Where: where.String()}
}

// limitPrintout shortens a value in an error context as PostgreSQL does:
// 100 bytes, cut at a character boundary, then "...".
func limitPrintout(s string) string {
	const max = 100
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}

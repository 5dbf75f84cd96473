package executor

import (
	"encoding/binary"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5/pgproto3"
)

// lineMap remembers which of the client's lines each row a cluster got
// was, so that the line number in a cluster's COPY error ("COPY t, line
// 12") can be told in the client's numbering. It costs about one byte per
// row: per row, the distance from the previous row's client line (and,
// for the rare row that spans several lines, its span).
type lineMap struct {
	// header is the number of lines before the first row (the HEADER
	// line), the same for the cluster and the client.
	header int64
	enc    []byte
	// clientEnd and clusterEnd are the line numbers after the last row.
	clientEnd, clusterEnd int64
	rows                  int64
}

// add records a row that ends at the client's line clientLine and spans
// span of the cluster's lines.
func (m *lineMap) add(clientLine, span int64) {
	delta := uint64(clientLine - m.clientEnd)
	v := delta << 1
	if span != 1 {
		v |= 1
	}
	m.enc = binary.AppendUvarint(m.enc, v)
	if span != 1 {
		m.enc = binary.AppendUvarint(m.enc, uint64(span))
	}
	m.clientEnd = clientLine
	m.clusterEnd += span
	m.rows++
}

// setHeader records the lines of the header the cluster got.
func (m *lineMap) setHeader(lines int64) {
	m.header = lines
	if m.rows == 0 {
		m.clientEnd, m.clusterEnd = lines, lines
	}
}

// client translates the cluster's line number into the client's.
func (m *lineMap) client(line int64) int64 {
	if line <= m.header {
		return line
	}
	client, cluster := m.header, m.header
	for p := 0; p < len(m.enc); {
		v, n := binary.Uvarint(m.enc[p:])
		p += n
		span := int64(1)
		if v&1 != 0 {
			s, n := binary.Uvarint(m.enc[p:])
			p += n
			span = int64(s)
		}
		client += int64(v >> 1)
		cluster += span
		if cluster >= line {
			return max(client-(cluster-line), client-span+1)
		}
	}
	return client + (line - cluster)
}

// copyContextLine finds "COPY <table>, line <n>" in an error's context.
var copyContextLine = regexp.MustCompile(`(?m)^(COPY .*?, line )([0-9]+)`)

// errorLine returns the line number an error's context names, or 0.
func errorLine(e *pgproto3.ErrorResponse) int64 {
	m := copyContextLine.FindStringSubmatch(e.Where)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(m[2], 10, 64)
	return n
}

// translateLine rewrites the line number in an error's context with the
// client's.
func translateLine(e *pgproto3.ErrorResponse, m *lineMap) {
	e.Where = copyContextLine.ReplaceAllStringFunc(e.Where, func(s string) string {
		sub := copyContextLine.FindStringSubmatch(s)
		n, err := strconv.ParseInt(sub[2], 10, 64)
		if err != nil {
			return s
		}
		return sub[1] + strconv.FormatInt(m.client(n), 10)
	})
}

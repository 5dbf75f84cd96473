package executor

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sqlrouter/sqlrouter/planner"
)

// rowKind says what a piece of COPY data cut by a splitter is.
type rowKind int

const (
	rowData   rowKind = iota // a row of the table
	rowHeader                // the HEADER line (text and csv)
	rowEnd                   // the end-of-data marker (\. or the binary trailer); Raw holds any row data before it
	rowBad                   // input PostgreSQL rejects where the router can tell what it says: Err
)

// eolType is the line ending a text or csv COPY uses, fixed by the first
// line as PostgreSQL fixes it.
type eolType int

const (
	eolUnknown eolType = iota
	eolNL
	eolCR
	eolCRNL
)

// copyRow is one row of COPY data as a splitter cut it.
type copyRow struct {
	kind rowKind
	// raw is the row's bytes as the client sent them, line end included
	// (binary: the whole tuple). It aliases the splitter's buffer and is
	// valid until the next call of the splitter.
	raw []byte
	// line is the client's line number at the row's end, as PostgreSQL
	// counts (cur_lineno): the header is line 1, a csv row whose quoted
	// values hold line breaks spans several lines; binary rows count 1.
	line int64
	// span is how many lines the row counts for a cluster that has seen
	// lines before; spanFirst for one that has not (the line ending is not
	// known yet, which changes how line breaks inside quotes count).
	span, spanFirst int64
	// fields is the number of columns the row has.
	fields int
	// size is the length of the line without its ending, which PostgreSQL
	// counts toward a batch of rows to insert (0 for binary).
	size int
	// key is the value of the distribution key column (unescaped, or the
	// binary bytes), valid like raw; keyNull reports NULL; keyOK is false
	// when the row has no such column.
	key     []byte
	keyNull bool
	keyOK   bool
	// afterEnd marks binary data after the trailer, which PostgreSQL
	// rejects.
	afterEnd bool
	// err is the error PostgreSQL gives for a rowBad: its message, hint and
	// the line it names.
	err *copyError
}

// copyError is an error about the data that the router reports itself,
// with PostgreSQL's message text.
type copyError struct {
	code, message, hint string
	line                int64
	// column and value, when set, go into the context as PostgreSQL's
	// "column x: "value"" part; null says the value was NULL.
	column, value string
	null, hasCol  bool
}

// splitter cuts a COPY's data into rows.
type splitter interface {
	// feed appends client data. Rows returned earlier become invalid.
	feed(data []byte)
	// next returns the next complete row; ok is false when more data is
	// needed. final says no more data will come: what is left is the last
	// row.
	next(final bool) (row copyRow, ok bool)
}

// textSplitter cuts text and csv data into lines as PostgreSQL 15's
// CopyReadLineText does (line endings fixed by the first line, \. ending
// the data, csv quotes holding line breaks), and reads one column of each.
type textSplitter struct {
	csv               bool
	delim, quote, esc byte
	hasEsc            bool // csv line cutting: an escape distinct from the quote
	null              string
	keyCol, ncols     int
	forceNotNull      bool
	forceNull         bool
	header            bool // the next line is the header
	ended             bool // the end-of-data marker was seen
	eol               eolType
	line              int64 // cur_lineno after the last row returned
	buf               []byte
	start             int // start of the current row in buf
	pos               int // where scanning resumes
	inQuote, lastEsc  bool
	embNL, embCR      int64 // line breaks inside quotes so far in the row
	firstChar         bool  // pos is the row's first byte
	keyBuf            []byte
	// special marks the bytes line cutting looks at; others are skipped.
	special [256]bool
}

// newTextSplitter makes a splitter for text or csv data whose rows have
// ncols columns, the key at keyCol (-1: none is read).
func newTextSplitter(o planner.CopyOptions, keyCol, ncols int, keyName string) *textSplitter {
	t := &textSplitter{
		csv:       o.Format == planner.CopyCSV,
		delim:     o.Delimiter,
		quote:     o.Quote,
		esc:       o.Escape,
		null:      o.Null,
		keyCol:    keyCol,
		ncols:     ncols,
		header:    o.Header,
		firstChar: true,
	}
	t.hasEsc = t.csv && t.esc != t.quote
	t.special['\r'], t.special['\n'], t.special['\\'] = true, true, true
	if t.csv {
		t.special[t.quote], t.special[t.esc] = true, true
	}
	for _, c := range o.ForceNotNull {
		t.forceNotNull = t.forceNotNull || c == keyName
	}
	for _, c := range o.ForceNull {
		t.forceNull = t.forceNull || c == keyName
	}
	return t
}

func (t *textSplitter) feed(data []byte) {
	if t.ended {
		return // PostgreSQL ignores what follows the end marker
	}
	if t.start > 0 {
		n := copy(t.buf, t.buf[t.start:])
		t.buf = t.buf[:n]
		t.pos -= t.start
		t.start = 0
	}
	t.buf = append(t.buf, data...)
}

// span is the number of lines a row counts with the given line ending.
func (t *textSplitter) spanWith(eol eolType) int64 {
	if eol == eolNL {
		return 1 + t.embNL
	}
	return 1 + t.embCR
}

func (t *textSplitter) next(final bool) (copyRow, bool) {
	if t.ended {
		return copyRow{}, false
	}
	buf := t.buf
	eolAtStart := t.eol
	for t.pos < len(buf) {
		if !t.special[buf[t.pos]] {
			// Plain data: nothing to look at until the next special byte.
			j := t.pos + 1
			for j < len(buf) && !t.special[buf[j]] {
				j++
			}
			t.pos, t.firstChar, t.lastEsc = j, false, false
			continue
		}
		i := t.pos
		c := buf[i]
		more := i+1 < len(buf)
		if t.csv {
			if (c == '\\' || c == '\r') && !more && !final {
				return copyRow{}, false // look ahead first, as PostgreSQL does
			}
			if t.inQuote && t.hasEsc && c == t.esc {
				t.lastEsc = !t.lastEsc
			}
			if c == t.quote && !t.lastEsc {
				t.inQuote = !t.inQuote
			}
			if !t.hasEsc || c != t.esc {
				t.lastEsc = false
			}
			if t.inQuote {
				switch c {
				case '\n':
					t.embNL++
				case '\r':
					t.embCR++
				}
			}
		}
		lineNow := t.line + t.spanWith(eolAtStart)
		if c == '\r' && (!t.csv || !t.inQuote) {
			end := i + 1
			if t.eol == eolUnknown || t.eol == eolCRNL {
				if !more && !final {
					return copyRow{}, false
				}
				if more && buf[i+1] == '\n' {
					end = i + 2
					t.eol = eolCRNL
				} else if t.eol == eolCRNL {
					return t.bad(lineNow, t.crError()), true
				} else {
					t.eol = eolCR
				}
			} else if t.eol == eolNL {
				return t.bad(lineNow, t.crError()), true
			}
			return t.finishRow(end, end-i, eolAtStart), true
		}
		if c == '\n' && (!t.csv || !t.inQuote) {
			if t.eol == eolCR || t.eol == eolCRNL {
				return t.bad(lineNow, t.nlError()), true
			}
			t.eol = eolNL
			return t.finishRow(i+1, 1, eolAtStart), true
		}
		if c == '\\' && (!t.csv || t.firstChar) {
			if !more {
				if !final {
					return copyRow{}, false
				}
				// A backslash at the very end: part of the last line.
				t.pos = i + 1
				t.firstChar = false
				continue
			}
			if buf[i+1] == '.' {
				row, ok, done, resume := t.endMarker(i, final, lineNow, eolAtStart)
				if done {
					return row, ok
				}
				// csv: \. followed by data is data; PostgreSQL skips the
				// bytes it looked at.
				t.pos = resume
				t.firstChar = false
				continue
			} else if !t.csv {
				t.pos = i + 2 // anything after a backslash is data
				t.firstChar = false
				continue
			}
		}
		t.pos = i + 1
		t.firstChar = false
	}
	if !final || t.start == len(buf) {
		return copyRow{}, false
	}
	// The last line, without a line ending.
	return t.finishRow(len(buf), 0, eolAtStart), true
}

// endMarker handles \. at i. done is false when, in csv, it is data;
// resume is then where scanning goes on.
func (t *textSplitter) endMarker(i int, final bool, lineNow int64, eolAtStart eolType) (row copyRow, ok, done bool, resume int) {
	buf := t.buf
	j := i + 2 // after "\."
	at := func(k int) byte {
		if k < len(buf) {
			return buf[k]
		}
		return 0 // PostgreSQL's input buffer is padded with a NUL
	}
	corrupt := func(msg string) (copyRow, bool, bool, int) {
		if t.csv {
			return copyRow{}, false, false, min(j, len(buf))
		}
		return t.bad(lineNow, &copyError{code: codeBadCopyFormat, message: msg}), true, true, 0
	}
	if t.eol == eolCRNL {
		if j >= len(buf) && !final {
			return copyRow{}, false, true, 0
		}
		c2 := at(j)
		j++
		switch {
		case c2 == '\n':
			return corrupt("end-of-copy marker does not match previous newline style")
		case c2 != '\r':
			return corrupt("end-of-copy marker corrupt")
		}
	}
	if j >= len(buf) && !final {
		return copyRow{}, false, true, 0
	}
	c2 := at(j)
	j++
	if c2 != '\r' && c2 != '\n' {
		return corrupt("end-of-copy marker corrupt")
	}
	if (t.eol == eolNL && c2 != '\n') || (t.eol == eolCRNL && c2 != '\n') || (t.eol == eolCR && c2 != '\r') {
		return t.bad(lineNow, &copyError{code: codeBadCopyFormat, message: "end-of-copy marker does not match previous newline style"}), true, true, 0
	}
	// The data before \. is the last line (often empty).
	row = t.rowAt(i, eolAtStart, 0)
	row.kind = rowEnd
	t.ended = true
	t.buf, t.start, t.pos = nil, 0, 0
	return row, true, true, 0
}

func (t *textSplitter) crError() *copyError {
	if t.csv {
		return &copyError{code: codeBadCopyFormat, message: "unquoted carriage return found in data", hint: "Use quoted CSV field to represent carriage return."}
	}
	return &copyError{code: codeBadCopyFormat, message: "literal carriage return found in data", hint: `Use "\r" to represent carriage return.`}
}

func (t *textSplitter) nlError() *copyError {
	if t.csv {
		return &copyError{code: codeBadCopyFormat, message: "unquoted newline found in data", hint: "Use quoted CSV field to represent newline."}
	}
	return &copyError{code: codeBadCopyFormat, message: "literal newline found in data", hint: `Use "\n" to represent newline.`}
}

// bad ends the data with an error PostgreSQL raises while cutting lines.
// PostgreSQL checks the encoding of the data before it cuts it, so an
// invalid byte in the row before the error is what it reports.
func (t *textSplitter) bad(line int64, e *copyError) copyRow {
	if enc := invalidUTF8(t.buf[t.start:min(len(t.buf), t.pos+2)]); enc != nil {
		e = enc
	}
	e.line = line
	t.ended = true
	return copyRow{kind: rowBad, err: e, line: line}
}

// finishRow returns the row that ends at end (eolLen bytes of line ending)
// and starts the next.
func (t *textSplitter) finishRow(end, eolLen int, eolAtStart eolType) copyRow {
	row := t.rowAt(end, eolAtStart, eolLen)
	t.start, t.pos = end, end
	return row
}

// rowAt makes the row buf[start:end] (eolLen bytes of which are its line
// ending) and resets the per-row state.
func (t *textSplitter) rowAt(end int, eolAtStart eolType, eolLen int) copyRow {
	row := copyRow{kind: rowData, raw: t.buf[t.start:end]}
	row.span = t.spanWith(eolAtStart)
	row.spanFirst = 1 + t.embCR
	t.line += row.span
	row.line = t.line
	content := row.raw[:len(row.raw)-eolLen]
	row.size = len(content)
	if t.header {
		row.kind = rowHeader
		t.header = false
	} else if t.csv {
		t.readCSV(&row, content)
	} else {
		t.readText(&row, content)
	}
	t.inQuote, t.lastEsc, t.embNL, t.embCR, t.firstChar = false, false, 0, 0, true
	return row
}

// readText counts the columns of a text line and reads the key column as
// CopyReadAttributesText does: a backslash makes the next byte data, and
// the raw column is compared with the NULL string before unescaping.
func (t *textSplitter) readText(row *copyRow, line []byte) {
	field := 0
	start := 0
	for i := 0; ; {
		if i >= len(line) || line[i] == t.delim {
			if field == t.keyCol {
				raw := line[start:i]
				row.keyOK = true
				if string(raw) == t.null {
					row.keyNull = true
				} else {
					row.key = unescapeText(t.keyBuf[:0], raw)
					t.keyBuf = row.key
				}
			}
			field++
			if i >= len(line) {
				break
			}
			i++
			start = i
			continue
		}
		if line[i] == '\\' {
			i += 2
			if i > len(line) {
				i = len(line)
			}
			continue
		}
		i++
	}
	row.fields = field
}

// unescapeText appends the value of a text-format column: \b \f \n \r \t
// \v, octal \ooo, hex \xhh, and any other escaped byte as itself.
func unescapeText(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(raw) {
			break
		}
		c = raw[i]
		switch {
		case c >= '0' && c <= '7':
			v := int(c - '0')
			for k := 0; k < 2 && i+1 < len(raw) && raw[i+1] >= '0' && raw[i+1] <= '7'; k++ {
				i++
				v = v<<3 + int(raw[i]-'0')
			}
			c = byte(v)
		case c == 'x':
			if i+1 < len(raw) && isHex(raw[i+1]) {
				i++
				v := hexValue(raw[i])
				if i+1 < len(raw) && isHex(raw[i+1]) {
					i++
					v = v<<4 + hexValue(raw[i])
				}
				c = byte(v)
			}
		case c == 'b':
			c = '\b'
		case c == 'f':
			c = '\f'
		case c == 'n':
			c = '\n'
		case c == 'r':
			c = '\r'
		case c == 't':
			c = '\t'
		case c == 'v':
			c = '\v'
		}
		dst = append(dst, c)
	}
	return dst
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}

// readCSV counts the columns of a csv line and reads the key column as
// CopyReadAttributesCSV does. A quote still open at the end of the line
// (only possible for the last line) leaves the key unread: PostgreSQL
// reports the line.
func (t *textSplitter) readCSV(row *copyRow, line []byte) {
	field := 0
	i := 0
	for {
		start, rawEnd := i, -1
		sawQuote, inQuote, found := false, false, false
		isKey := field == t.keyCol
		var val []byte
		if isKey {
			val = t.keyBuf[:0]
		}
	scan:
		for {
			if i >= len(line) {
				if inQuote {
					row.fields = field + 1
					return // an unterminated quoted value: PostgreSQL reports it
				}
				rawEnd = i
				break
			}
			c := line[i]
			i++
			switch {
			case !inQuote && c == t.delim:
				found, rawEnd = true, i-1
				break scan
			case !inQuote && c == t.quote:
				sawQuote, inQuote = true, true
				continue
			case inQuote && c == t.esc && i < len(line) && (line[i] == t.esc || line[i] == t.quote):
				c = line[i]
				i++
			case inQuote && c == t.quote:
				inQuote = false
				continue
			}
			if isKey {
				val = append(val, c)
			}
		}
		if isKey {
			t.keyBuf = val
			row.keyOK = true
			null := !sawQuote && string(line[start:rawEnd]) == t.null
			switch {
			case null && t.forceNotNull:
				row.key = append(val[:0], t.null...)
				t.keyBuf = row.key
			case null:
				row.keyNull = true
			case t.forceNull && string(val) == t.null:
				row.keyNull = true
			default:
				row.key = val
			}
		}
		field++
		if !found {
			break
		}
	}
	row.fields = field
}

// invalidUTF8 returns PostgreSQL's error for the first byte sequence of b
// that is not UTF-8 (NUL included), or nil. A sequence cut short by the
// end of b is not judged.
func invalidUTF8(b []byte) *copyError {
	for i := 0; i < len(b); {
		c := b[i]
		if c != 0 && c < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if c != 0 && (r != utf8.RuneError || n > 1) {
			i += n
			continue
		}
		if c != 0 && !utf8.FullRune(b[i:]) {
			return nil
		}
		// pg_utf_mblen: the length the lead byte announces.
		l := 1
		switch {
		case c&0xe0 == 0xc0:
			l = 2
		case c&0xf0 == 0xe0:
			l = 3
		case c&0xf8 == 0xf0:
			l = 4
		}
		parts := make([]string, 0, l)
		for _, x := range b[i:min(len(b), i+l)] {
			parts = append(parts, fmt.Sprintf("0x%02x", x))
		}
		return &copyError{code: "22021", message: `invalid byte sequence for encoding "UTF8": ` + strings.Join(parts, " ")}
	}
	return nil
}

// codeBadCopyFormat is bad_copy_file_format.
const codeBadCopyFormat = "22P04"

func (e *copyError) String() string {
	return fmt.Sprintf("%s: %s (line %d)", e.code, e.message, e.line)
}

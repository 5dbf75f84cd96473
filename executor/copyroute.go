package executor

import (
	"context"
	"fmt"
	"unicode/utf8"
	"unsafe"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// cut routes every complete row the splitter holds.
func (r *copyIn) cut(ctx context.Context, final bool) {
	for !r.stopped() && (!r.ended || r.binary) {
		row, ok := r.sp.next(final)
		if !ok {
			return
		}
		r.route(ctx, row)
	}
}

// route sends one row where it belongs.
func (r *copyIn) route(ctx context.Context, row copyRow) {
	switch row.kind {
	case rowHeader:
		if row.err != nil {
			// A binary file header PostgreSQL rejects: the home cluster
			// says how.
			r.toHome(ctx, row, row.raw, row.err)
			return
		}
		r.header = append([]byte(nil), row.raw...)
		if !r.binary {
			r.headerLines = row.span
		}
		for _, t := range r.order {
			t.buf = append(t.buf, r.header...)
			t.lines.setHeader(r.headerLines)
			t.sawLine = !r.binary
		}
		return
	case rowBad:
		r.routerErr = row.err
		return
	case rowEnd:
		r.ended = true
		if len(row.raw) == 0 {
			return
		}
		row.kind = rowData // the last line, before \.
	}
	if row.afterEnd {
		r.toHome(ctx, row, append([]byte{0xff, 0xff}, row.raw...), &copyError{code: codeBadCopyFormat, message: "received copy data after EOF marker", line: row.line})
		return
	}
	key, why := r.key(row)
	if why != nil {
		r.toHome(ctx, row, row.raw, why)
		return
	}
	cluster, err := r.p.Table.Distribution.ClusterFor(key)
	if err != nil {
		r.routerErr = &copyError{code: pgerror.CheckViolation, line: row.line, hasCol: true, column: r.p.Table.Key, value: key.String(),
			message: fmt.Sprintf("no cluster of distribution %s accepts key %s = %s", r.p.Table.Distribution.Name, r.p.Table.Key, key)}
		return
	}
	t := r.target(ctx, cluster, row.line)
	if t == nil {
		return
	}
	r.append(ctx, t, row, row.raw)
	r.batch(row)
}

// append adds a row's bytes to a target's data.
func (r *copyIn) append(ctx context.Context, t *copyTarget, row copyRow, raw []byte) {
	span := row.span
	if !t.sawLine {
		span = row.spanFirst
	}
	t.lines.add(row.line, span)
	t.sawLine = !r.binary
	t.buf = append(t.buf, raw...)
	if len(t.buf) >= copyMessageMax {
		r.send(ctx, t, false)
	}
}

// toHome sends a row whose key the router cannot read to the home
// cluster, which rejects it with PostgreSQL's own error; why is the
// router's error should it accept the row.
func (r *copyIn) toHome(ctx context.Context, row copyRow, raw []byte, why *copyError) {
	r.append(ctx, r.home, row, raw)
	r.suspect = why
}

// key reads a row's distribution key, or says why it cannot.
func (r *copyIn) key(row copyRow) (shardmap.Key, *copyError) {
	t := r.p.Table
	base := copyError{line: row.line}
	switch {
	case row.fields < 0:
		e := base
		e.code, e.message = codeBadCopyFormat, "unexpected EOF in COPY data"
		return shardmap.Key{}, &e
	case row.fields != len(r.columns):
		e := base
		e.code = codeBadCopyFormat
		switch {
		case r.binary:
			e.message = fmt.Sprintf("row field count is %d, expected %d", row.fields, len(r.columns))
		case row.fields < len(r.columns):
			e.message = fmt.Sprintf("missing data for column \"%s\"", r.columns[row.fields])
		default:
			e.message = "extra data after last expected column"
		}
		return shardmap.Key{}, &e
	case !row.keyOK:
		e := base
		e.code, e.message = codeBadCopyFormat, "unterminated CSV quoted field"
		return shardmap.Key{}, &e
	case row.keyNull:
		e := base
		e.code, e.message = pgerror.FeatureNotSupported, fmt.Sprintf("inserting NULL into distribution key column %s of table %s is not supported", t.Key, t.Name)
		e.hasCol, e.null, e.column = true, true, t.Key
		return shardmap.Key{}, &e
	}
	var key shardmap.Key
	var err error
	if r.binary {
		if w := binaryKeyWidth(r.keyType); w > 0 && len(row.key) != w {
			err = shardmap.ErrBadKey
		} else {
			key, err = shardmap.KeyFromBinary(r.keyType, row.key)
		}
	} else if r.keyType.Kind() == shardmap.KindInt && len(row.key) > 0 {
		// An integer key keeps nothing of the text: parse it in place.
		key, err = shardmap.ParseKey(r.keyType, unsafe.String(&row.key[0], len(row.key)))
	} else {
		key, err = shardmap.ParseKey(r.keyType, string(row.key))
	}
	if err == nil && key.Kind() == shardmap.KindText && !utf8.ValidString(key.Text()) {
		err = shardmap.ErrBadKey
	}
	if err != nil {
		e := base
		e.hasCol, e.column, e.value = true, t.Key, string(row.key)
		e.code, e.message = pgerror.InvalidTextRepresentation, fmt.Sprintf("invalid input syntax for type %s: \"%s\"", r.keyType.MessageName(), row.key)
		if r.binary {
			e.code, e.message, e.value = "22P03", "incorrect binary data format", ""
			e.hasCol = false
		}
		return shardmap.Key{}, &e
	}
	return key, nil
}

// binaryKeyWidth is the size of a binary integer key of type t (0 when
// any size goes).
func binaryKeyWidth(t shardmap.KeyType) int {
	switch t {
	case shardmap.KeyTypeSmallint:
		return 2
	case shardmap.KeyTypeInt:
		return 4
	case shardmap.KeyTypeBigint:
		return 8
	case shardmap.KeyTypeUUID:
		return 16
	}
	return 0
}

// target returns the open COPY of a cluster, opening it (in the
// transaction) for the first row that goes there. nil means the COPY
// failed.
func (r *copyIn) target(ctx context.Context, cluster string, line int64) *copyTarget {
	if t := r.targets[cluster]; t != nil {
		if t.err != nil {
			return nil
		}
		return t
	}
	c, err := r.join(ctx, cluster)
	if err != nil {
		r.fatal = err
		return nil
	}
	if c == nil {
		return nil
	}
	t := &copyTarget{cluster: cluster, c: c, openLine: line}
	_, resp, err := r.startCopy(ctx, t)
	switch {
	case err != nil:
		r.fatal = err
		return nil
	case resp != nil:
		// Still listed, so that its error competes with the others.
		t.err = resp
		r.targets[cluster] = t
		r.order = append(r.order, t)
		return nil
	}
	r.add(t)
	return t
}

// copyMessageMax is the most data one CopyData to a cluster carries, and
// how much the router holds for a cluster before sending it on: the
// connection's write buffer then stays small enough to be reused.
const copyMessageMax = 64<<10 - 5

// send sends a target's data in CopyData messages of copyMessageMax
// (COPY data need not align with rows); a shorter rest waits for more
// unless all is set.
func (r *copyIn) send(ctx context.Context, t *copyTarget, all bool) {
	if t.c.Broken() {
		t.buf = t.buf[:0]
		return
	}
	data := t.buf
	for len(data) >= copyMessageMax || (all && len(data) > 0) {
		n := min(len(data), copyMessageMax)
		t.c.SendRaw('d', data[:n])
		data = data[n:]
		if err := t.c.Flush(ctx); err != nil {
			if r.fatal == nil {
				r.fatal = r.lost(t, err)
			}
			t.buf = t.buf[:0]
			return
		}
	}
	t.buf = t.buf[:copy(t.buf, data)]
}

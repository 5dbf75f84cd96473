package executor

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sqlrouter/sqlrouter/planner"
)

// cutAll feeds data in chunks of size n (0: at once) and describes every
// row the splitter returns, one line per row.
func cutAll(sp splitter, data []byte, n int) string {
	var out []string
	collect := func(final bool) {
		for {
			r, ok := sp.next(final)
			if !ok {
				return
			}
			out = append(out, describeRow(r))
			if r.kind == rowBad || r.kind == rowEnd || (r.kind == rowHeader && r.err != nil) {
				return
			}
		}
	}
	if n == 0 {
		n = len(data) + 1
	}
	for len(data) > 0 {
		k := min(n, len(data))
		sp.feed(data[:k])
		data = data[k:]
		collect(false)
	}
	collect(true)
	return strings.Join(out, "\n")
}

func describeRow(r copyRow) string {
	kind := map[rowKind]string{rowData: "row", rowHeader: "header", rowEnd: "end", rowBad: "bad"}[r.kind]
	s := fmt.Sprintf("%s line %d span %d/%d %q", kind, r.line, r.span, r.spanFirst, r.raw)
	switch {
	case r.err != nil:
		s += " error " + r.err.message
	case r.kind == rowHeader:
	case !r.keyOK:
		s += fmt.Sprintf(" fields %d no key", r.fields)
	case r.keyNull:
		s += fmt.Sprintf(" fields %d key NULL", r.fields)
	default:
		s += fmt.Sprintf(" fields %d key %q", r.fields, r.key)
	}
	return s
}

// The text and csv splitter cuts rows where PostgreSQL's COPY does,
// counts lines as it does, reads the key column, and gives the same rows
// whatever the chunks the data arrives in.
func TestTextSplitter(t *testing.T) {
	text := planner.CopyOptions{Format: planner.CopyText, Delimiter: '\t', Null: `\N`}
	csv := planner.CopyOptions{Format: planner.CopyCSV, Delimiter: ',', Quote: '"', Escape: '"'}
	csvHeader := csv
	csvHeader.Header = true
	csvForce := csv
	csvForce.ForceNotNull = []string{"k"}
	cases := []struct {
		name string
		opts planner.CopyOptions
		key  int
		data string
		want string
	}{
		{"text rows, escapes, NULL", text, 1, "a\t1\tx\nb\t\\N\ty\nc\t4\\\t2\tz\nd\t\\x35\\066\tw",
			"row line 1 span 1/1 \"a\\t1\\tx\\n\" fields 3 key \"1\"\n" +
				"row line 2 span 1/1 \"b\\t\\\\N\\ty\\n\" fields 3 key NULL\n" +
				"row line 3 span 1/1 \"c\\t4\\\\\\t2\\tz\\n\" fields 3 key \"4\\t2\"\n" +
				"row line 4 span 1/1 \"d\\t\\\\x35\\\\066\\tw\" fields 3 key \"56\""},
		{"text CRLF and the end marker", text, 0, "1\ta\r\n2\tb\r\n\\.\r\nignored\n",
			"row line 1 span 1/1 \"1\\ta\\r\\n\" fields 2 key \"1\"\nrow line 2 span 1/1 \"2\\tb\\r\\n\" fields 2 key \"2\"\nend line 3 span 1/1 \"\" fields 1 key \"\""},
		{"text bare CR after LF lines", text, 0, "1\ta\n2\tb\r\n",
			"row line 1 span 1/1 \"1\\ta\\n\" fields 2 key \"1\"\nbad line 2 span 0/0 \"\" error literal carriage return found in data"},
		{"text end marker mid-line", text, 0, "1\ta\n2\tb\\.\nx\n",
			"row line 1 span 1/1 \"1\\ta\\n\" fields 2 key \"1\"\nend line 2 span 1/1 \"2\\tb\" fields 2 key \"2\""},
		{"text corrupt end marker", text, 0, "1\n\\.x\n",
			"row line 1 span 1/1 \"1\\n\" fields 1 key \"1\"\nbad line 2 span 0/0 \"\" error end-of-copy marker corrupt"},
		{"csv quotes, embedded newlines, header", csvHeader, 1, "k,v\n\"a\nb\",\"x,\"\"y\"\"\"\n c ,\"\"\n",
			"header line 1 span 1/1 \"k,v\\n\"\n" +
				"row line 3 span 2/1 \"\\\"a\\nb\\\",\\\"x,\\\"\\\"y\\\"\\\"\\\"\\n\" fields 2 key \"x,\\\"y\\\"\"\n" +
				"row line 4 span 1/1 \" c ,\\\"\\\"\\n\" fields 2 key \"\""},
		{"csv NULL and FORCE_NOT_NULL", csvForce, 1, "a,\nb,\"\"\n",
			"row line 1 span 1/1 \"a,\\n\" fields 2 key \"\"\nrow line 2 span 1/1 \"b,\\\"\\\"\\n\" fields 2 key \"\""},
		{"csv unterminated at the end", csv, 1, "a,1\nb,\"open\n",
			"row line 1 span 1/1 \"a,1\\n\" fields 2 key \"1\"\nrow line 3 span 2/1 \"b,\\\"open\\n\" fields 2 no key"},
		{"csv end marker only alone", csv, 0, "\\.x,1\n\\.\nz\n",
			"row line 1 span 1/1 \"\\\\.x,1\\n\" fields 2 key \"\\\\.x\"\nend line 2 span 1/1 \"\" fields 1 key NULL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{0, 1, 2, 3, 7} {
				sp := newTextSplitter(tc.opts, tc.key, 3, "k")
				if got := cutAll(sp, []byte(tc.data), chunk); got != tc.want {
					t.Errorf("chunks of %d:\n got:\n%s\nwant:\n%s", chunk, got, tc.want)
				}
			}
		})
	}
}

// The binary splitter finds the header, each tuple and its key, and the
// trailer, whatever the chunks.
func TestBinarySplitter(t *testing.T) {
	data := append([]byte(nil), copyBinarySignature...)
	data = append(data, 0, 0, 0, 0, 0, 0, 0, 0)
	data = append(data, 0, 2, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 'x') // (7, 'x')
	data = append(data, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)                  // (NULL, '')
	data = append(data, 0xff, 0xff)
	want := "header line 0 span 0/0 \"PGCOPY\\n\\xff\\r\\n\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\"\n" +
		"row line 1 span 1/1 \"\\x00\\x02\\x00\\x00\\x00\\b\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\a\\x00\\x00\\x00\\x01x\" fields 2 key \"\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\a\"\n" +
		"row line 2 span 1/1 \"\\x00\\x02\\xff\\xff\\xff\\xff\\x00\\x00\\x00\\x00\" fields 2 key NULL\n" +
		"end line 0 span 0/0 \"\" fields 0 no key"
	for _, chunk := range []int{0, 1, 3, 5} {
		if got := cutAll(newBinarySplitter(0, 2), data, chunk); got != want {
			t.Errorf("chunks of %d:\n got:\n%s\nwant:\n%s", chunk, got, want)
		}
	}
}

// A cluster's line numbers translate back to the client's: rows it got,
// a header both saw, rows spanning several lines.
func TestLineMap(t *testing.T) {
	var m lineMap
	m.setHeader(1)
	m.add(3, 1)  // cluster line 2
	m.add(4, 1)  // 3
	m.add(9, 3)  // 4..6
	m.add(12, 1) // 7
	for _, c := range []struct{ cluster, client int64 }{{1, 1}, {2, 3}, {3, 4}, {4, 7}, {6, 9}, {7, 12}, {8, 13}} {
		if got := m.client(c.cluster); got != c.client {
			t.Errorf("cluster line %d: client line %d, want %d", c.cluster, got, c.client)
		}
	}
}

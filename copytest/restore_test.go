package copytest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// fillDumpTables puts varied rows into the dump_ tables of the reference
// server: escapes, line breaks, NULLs, arrays, json, bytea, unicode.
func fillDumpTables(t *testing.T) {
	c := ref(t)
	sqlExec(t, c, "TRUNCATE dump_items, dump_notes, dump_kinds")
	sqlExec(t, c, `INSERT INTO dump_items
		SELECT i, CASE WHEN i % 9 = 0 THEN NULL ELSE 'name ' || i || E'\ttab\nline \\ back ' || chr(233) END,
			i % 11, (i * 1.25)::numeric(10,2), ARRAY['a', 'b ' || i, NULL],
			timestamptz '2024-05-01 00:00+00' + i * interval '1 hour',
			jsonb_build_object('i', i, 's', 'x"y'), decode(lpad(to_hex(i), 8, '0'), 'hex')
		FROM generate_series(1, 1200) i`)
	sqlExec(t, c, `INSERT INTO dump_notes SELECT 'note-' || i || CASE WHEN i % 5 = 0 THEN ' ü' ELSE '' END, repeat('body ', i % 7) FROM generate_series(1, 400) i`)
	sqlExec(t, c, `INSERT INTO dump_kinds SELECT i, 'kind ' || i FROM generate_series(1, 20) i`)
}

// pgDump runs pg_dump --data-only of the dump_ tables on the reference.
func pgDump(t *testing.T, args ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dump.sql")
	all := append([]string{"--data-only", "-t", "dump_items", "-t", "dump_notes", "-t", "dump_kinds", "-f", path}, args...)
	cmd := exec.CommandContext(ctxT(t), binaries.Path("pg_dump"), append(all, reference.DSN("app"))...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	return path
}

// restore runs a dump file through psql into the router.
func restore(t *testing.T, path string) {
	t.Helper()
	cmd := exec.CommandContext(ctxT(t), binaries.Path("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", path, stack.RouterDSN())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("restore through the router: %v\n%s", err, out.String())
	}
}

// A data-only pg_dump of a plain PostgreSQL restores through the router:
// the default COPY format and --column-inserts both give back every row,
// each on its cluster, reference rows on every cluster.
func TestPgDumpRestore(t *testing.T) {
	ready(t)
	fillDumpTables(t)
	for _, format := range [][]string{nil, {"--column-inserts"}} {
		t.Run(strings.Join(append([]string{"dump"}, format...), " "), func(t *testing.T) {
			sqlExec(t, router(t), "TRUNCATE dump_items, dump_notes, dump_kinds")
			path := pgDump(t, format...)
			dump, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if uses := strings.Contains(string(dump), "FROM stdin;"); uses != (format == nil) {
				t.Fatalf("dump uses COPY: %v", uses)
			}
			restore(t, path)
			for _, sql := range []string{
				"SELECT * FROM dump_items ORDER BY id",
				"SELECT * FROM dump_notes ORDER BY code COLLATE \"C\"",
				"SELECT * FROM dump_kinds ORDER BY k",
			} {
				sameRows(t, sql)
			}
			for _, cl := range clusters() {
				rows := rowsOf(t, primary(t, cl), "SELECT id FROM dump_items")
				for _, r := range rows {
					var id int64
					fmt.Sscan(r, &id)
					if o := owner(t, "by_id", shardmap.IntKey(id)); o != cl {
						t.Fatalf("dump_items %d is on %s, belongs on %s", id, cl, o)
					}
				}
				if len(rows) == 0 {
					t.Errorf("no dump_items on %s", cl)
				}
				if got := rowsOf(t, primary(t, cl), "SELECT * FROM dump_kinds ORDER BY k"); !slices.Equal(got, rowsOf(t, ref(t), "SELECT * FROM dump_kinds ORDER BY k")) {
					t.Errorf("dump_kinds on %s differs", cl)
				}
			}
		})
	}
}

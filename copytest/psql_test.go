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

// psql runs the psql binary with a script on stdin against dsn.
func psql(t testing.TB, dsn, script string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctxT(t), binaries.Path("psql"), append([]string{"-X", "-q", "-v", "ON_ERROR_STOP=1", dsn}, args...)...)
	cmd.Stdin = strings.NewReader(script)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("psql: %v\n%s%s", err, out.String(), errOut.String())
	}
	return out.String()
}

// psql's \copy (COPY FROM STDIN and TO STDOUT underneath) works through
// the router, in text and csv, and reads back what one server gives.
func TestPsqlCopy(t *testing.T) {
	loadOuts(t)
	base := int64(6_000_000)
	var text, csv strings.Builder
	for i := range 200 {
		fmt.Fprintf(&text, "%d\tpsql text %d\t%d\n", base+int64(i), i, i%4)
		fmt.Fprintf(&csv, "%d,\"psql, csv %d\",%d\n", base+1000+int64(i), i, i%4)
	}
	script := "\\copy items (id, name, qty) FROM STDIN\n" + text.String() + "\\.\n" +
		"\\copy items (id, name, qty) FROM STDIN WITH (FORMAT csv)\n" + csv.String() + "\\.\n"
	psql(t, stack.RouterDSN(), script)
	var want []int64
	for i := range 200 {
		want = append(want, base+int64(i), base+1000+int64(i))
	}
	slices.Sort(want)
	assertPlaced(t, "items", "id", "by_id", fmt.Sprintf("id >= %d AND id < %d", base, base+2000), want)
	for _, id := range []int64{base + 5, base + 1005} {
		cl := owner(t, "by_id", shardmap.IntKey(id))
		if n := countOn(t, cl, "items", fmt.Sprintf("id = %d AND name LIKE 'psql%%'", id)); n != 1 {
			t.Errorf("item %d on %s: %d rows", id, cl, n)
		}
	}

	// \copy to a file, from the router and from the reference.
	dir := t.TempDir()
	for _, sql := range []string{
		`\copy (SELECT * FROM outs ORDER BY id) TO '%s'`,
		`\copy (SELECT qty, count(*) FROM outs GROUP BY qty ORDER BY qty) TO '%s' WITH (FORMAT csv, HEADER)`,
	} {
		got, want := filepath.Join(dir, "router.out"), filepath.Join(dir, "reference.out")
		psql(t, stack.RouterDSN(), fmt.Sprintf(sql, got)+"\n")
		psql(t, reference.DSN("app"), fmt.Sprintf(sql, want)+"\n")
		g, err1 := os.ReadFile(got)
		w, err2 := os.ReadFile(want)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(g, w) || len(g) == 0 {
			t.Errorf("%s: router %d bytes, reference %d bytes", sql, len(g), len(w))
		}
	}
	// \copy of a whole distributed table: the same lines.
	g := psql(t, stack.RouterDSN(), "\\copy outs TO STDOUT\n")
	w := psql(t, reference.DSN("app"), "\\copy outs TO STDOUT\n")
	if !slices.Equal(sortedLines([]byte(g), false), sortedLines([]byte(w), false)) {
		t.Errorf("\\copy outs TO STDOUT: router %d bytes, reference %d bytes", len(g), len(w))
	}
}

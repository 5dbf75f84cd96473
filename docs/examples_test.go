package docs

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sqlrouter/sqlrouter/devstack"
	"github.com/sqlrouter/sqlrouter/localdeploy"
)

// Every ```sql block of the manual, and of the README's quick start, runs
// without error through psql against the deployment of `sqlrouter dev`
// (its example map and tables, a replica per cluster), each page starting
// from empty tables.
func TestSQLExamplesRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, err := localdeploy.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	stack, err := devstack.Start(ctx, devstack.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := stack.Stop(sctx); err != nil {
			t.Error(err)
		}
	}()

	readme := readDoc(t, filepath.Join(root, "README.md"))
	start := strings.Index(readme, "## Quick start\n")
	end := strings.Index(readme[start+1:], "\n## ")
	if start < 0 || end < 0 {
		t.Fatal("README.md has no \"## Quick start\" section")
	}
	sources := map[string]string{"README.md (Quick start)": readme[start : start+1+end]}
	pages, _ := filepath.Glob("*.md")
	for _, p := range pages {
		sources[p] = readDoc(t, p)
	}
	ran := 0
	for name, text := range sources {
		blocks := sqlBlocks(text)
		if len(blocks) == 0 {
			continue
		}
		script := "TRUNCATE customers, orders;\n" + strings.Join(blocks, "\n")
		file := filepath.Join(t.TempDir(), "example.sql")
		if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		psql := exec.CommandContext(ctx, bin.Path("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", file, stack.RouterDSN())
		psql.Env = append(os.Environ(), "PGOPTIONS=", "PGHOST=", "PGPORT=")
		if out, err := psql.CombinedOutput(); err != nil {
			t.Errorf("%s: the SQL examples fail: %v\n%s\n--- script:\n%s", name, err, out, script)
		}
		ran += len(blocks)
	}
	if ran == 0 {
		t.Error("no ```sql block found")
	}
}

// sqlBlocks returns the bodies of the ```sql fenced blocks of a Markdown
// text.
func sqlBlocks(text string) []string {
	var out []string
	var cur []string
	in := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case !in && strings.TrimSpace(line) == "```sql":
			in, cur = true, nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			out = append(out, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, line)
		}
	}
	return out
}

package localdeploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// runTemplateHelper is the child side of TestTemplateBuiltOnceAcrossProcesses:
// it makes sure the template exists, logging to stderr, and prints its
// directory.
func runTemplateHelper() int {
	bin, err := FindBinaries()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	acct, err := serverAccount()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := ensureTemplate(ctx, bin, acct, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(dir)
	return 0
}

// Two test binaries that need the template at the same moment build it
// once, and neither sees a half-built one.
func TestTemplateBuiltOnceAcrossProcesses(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	type result struct {
		dir, log string
		err      error
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envTemplateHelper+"=1", "TMPDIR="+tmp)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			results[i] = result{strings.TrimSpace(stdout.String()), stderr.String(), err}
		})
	}
	wg.Wait()
	builds := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("helper %d: %v\n%s", i, r.err, r.log)
		}
		builds += strings.Count(r.log, "built postgres template")
	}
	if results[0].dir != results[1].dir || !strings.HasPrefix(results[0].dir, tmp) || !templateValid(results[0].dir) {
		t.Errorf("helpers returned %q and %q, want one valid template under %s", results[0].dir, results[1].dir, tmp)
	}
	if builds != 1 {
		t.Errorf("template built %d times, want once", builds)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(tmp, "*.tmp-*")); len(leftovers) > 0 {
		t.Errorf("staging directories left behind: %v", leftovers)
	}
}

func TestLockFileExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := lockFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := lockFile(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock while held: err = %v, want deadline exceeded", err)
	}
	unlock()
	unlock2, err := lockFile(context.Background(), path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlock2()
}

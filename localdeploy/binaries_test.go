package localdeploy

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestFindBinaries(t *testing.T) {
	bin, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range requiredTools {
		if info, err := os.Stat(bin.Path(tool)); err != nil || info.Mode()&0o111 == 0 {
			t.Errorf("%s: not an executable (%v)", bin.Path(tool), err)
		}
	}
	if !strings.HasPrefix(bin.FullVersion, strconv.Itoa(bin.Version)+".") {
		t.Errorf("FullVersion %q does not start with major %d", bin.FullVersion, bin.Version)
	}
	if bin.Version < 13 {
		t.Errorf("Version = %d, want >= 13 (wal_keep_size)", bin.Version)
	}
}

// The machine this project is built on has PostgreSQL 15 in Debian's
// place; the explicit directory wins over PATH.
func TestFindBinariesExplicitDir(t *testing.T) {
	const dir = "/usr/lib/postgresql/15/bin"
	if _, err := os.Stat(filepath.Join(dir, "postgres")); err != nil {
		t.Skipf("%s not installed here", dir)
	}
	t.Setenv(EnvPGBin, dir)
	bin, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	if bin.Dir != dir || bin.Version != 15 {
		t.Errorf("FindBinaries() = %+v, want Dir %s and Version 15", bin, dir)
	}
}

func TestFindBinariesNamesWhatItSearched(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvPGBin, dir)
	_, err := FindBinaries()
	if err == nil {
		t.Fatalf("FindBinaries found binaries in empty %s", dir)
	}
	for _, want := range []string{dir, "missing initdb", EnvPGBin} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

package localdeploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EnvPGBin names the environment variable that, when set, is the only
// directory FindBinaries looks in.
const EnvPGBin = "SQLROUTER_PG_BIN"

// requiredTools are the programs a binaries directory must hold.
var requiredTools = []string{"initdb", "postgres", "pg_basebackup", "psql", "pg_ctl", "pgbench"}

// Binaries is a directory of PostgreSQL server and client programs.
type Binaries struct {
	// Dir holds initdb, postgres, pg_basebackup, psql, pg_ctl and pgbench.
	Dir string
	// Version is the major version, e.g. 15.
	Version int
	// FullVersion is the version `postgres --version` reports, e.g. "15.18".
	FullVersion string
}

// Path returns the absolute path of tool (e.g. "psql") in b.Dir.
func (b Binaries) Path(tool string) string {
	return filepath.Join(b.Dir, tool)
}

// FindBinaries locates the PostgreSQL programs. With SQLROUTER_PG_BIN set it
// looks only there; otherwise it tries, in order, the directory of
// `postgres` on PATH (as found and with symlinks resolved), the output of
// `pg_config --bindir`, and the highest /usr/lib/postgresql/*/bin. The first
// directory holding every required tool wins; the error names every place
// searched and what was missing there.
func FindBinaries() (Binaries, error) {
	var candidates []string
	if dir := os.Getenv(EnvPGBin); dir != "" {
		candidates = []string{dir}
	} else {
		candidates = searchPath()
	}
	var tried []string
	for _, dir := range candidates {
		b, err := inspectBinaries(dir)
		if err == nil {
			return b, nil
		}
		tried = append(tried, fmt.Sprintf("%s (%v)", dir, err))
	}
	if len(tried) == 0 {
		tried = append(tried, "no postgres on PATH, no pg_config on PATH, nothing in /usr/lib/postgresql/*/bin")
	}
	return Binaries{}, fmt.Errorf("localdeploy: PostgreSQL binaries (%s) not found; searched: %s; set %s to their directory",
		strings.Join(requiredTools, ", "), strings.Join(tried, "; "), EnvPGBin)
}

// searchPath lists candidate directories in preference order, without
// duplicates.
func searchPath() []string {
	var dirs []string
	add := func(dir string) {
		if dir == "" {
			return
		}
		for _, d := range dirs {
			if d == dir {
				return
			}
		}
		dirs = append(dirs, dir)
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		add(filepath.Dir(p))
		if resolved, err := filepath.EvalSymlinks(p); err == nil {
			add(filepath.Dir(resolved))
		}
	}
	if p, err := exec.LookPath("pg_config"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, p, "--bindir").Output()
		cancel()
		if err == nil {
			add(strings.TrimSpace(string(out)))
		}
	}
	for _, d := range debianBinDirs() {
		add(d)
	}
	return dirs
}

// debianBinDirs returns /usr/lib/postgresql/*/bin, highest version first.
func debianBinDirs() []string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) > version(matches[j]) })
	return matches
}

var versionPattern = regexp.MustCompile(`\(PostgreSQL\) ([0-9]+)((?:\.[0-9]+)*)`)

// inspectBinaries checks that dir holds every required tool and asks
// postgres for its version.
func inspectBinaries(dir string) (Binaries, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Binaries{}, err
	}
	var missing []string
	for _, tool := range requiredTools {
		info, err := os.Stat(filepath.Join(abs, tool))
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return Binaries{}, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(abs, "postgres"), "--version").Output()
	if err != nil {
		return Binaries{}, fmt.Errorf("postgres --version: %w", err)
	}
	m := versionPattern.FindStringSubmatch(string(out))
	if m == nil {
		return Binaries{}, errors.New("cannot parse postgres --version output " + strconv.Quote(strings.TrimSpace(string(out))))
	}
	major, _ := strconv.Atoi(m[1])
	return Binaries{Dir: abs, Version: major, FullVersion: m[1] + m[2]}, nil
}

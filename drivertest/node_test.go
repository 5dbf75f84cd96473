package drivertest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// nodeModules installs node-postgres, at the version package-lock.json
// pins, into a cache directory named by the lock file's hash (once per
// machine), and returns its node_modules.
func nodeModules(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("node-postgres cannot be installed: %s is not on PATH (.ci/run installs nodejs and npm)", tool)
		}
	}
	lock, err := os.ReadFile("testdata/node/package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "sqlrouter", "drivertest-node-"+hex.EncodeToString(sum[:6]))
	modules := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "pg", "package.json")); err == nil {
		return modules
	}
	// Install next to the cache, then move into place: a failed or
	// concurrent install never leaves a half directory behind.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	staging, err := os.MkdirTemp(filepath.Dir(dir), "install-*")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(staging)
	for _, f := range []string{"package.json", "package-lock.json"} {
		data, err := os.ReadFile(filepath.Join("testdata/node", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(staging, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	npm := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	npm.Dir = staging
	if out, err := npm.CombinedOutput(); err != nil {
		t.Skipf("node-postgres cannot be installed (npm ci): %v\n%s", err, out)
	}
	if err := os.Rename(staging, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(modules, "pg", "package.json")); statErr != nil {
			t.Fatal(err)
		}
	}
	return modules
}

// The scenario with node-postgres: named (prepared) queries,
// SCRAM-SHA-256-PLUS, the CA checked with the host name, a CancelRequest
// from a second client.
func TestNodePostgres(t *testing.T) {
	modules := nodeModules(t)
	s := newScenario(t, "node-postgres")
	cmd := exec.Command("node", "testdata/node/scenario.js")
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	check(t, s, startProcess(t, s, cmd))
}

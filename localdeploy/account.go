package localdeploy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// serverUser is the OS user servers run as when this process is root.
const serverUser = "postgres"

// account is the OS identity that server processes run under.
type account struct {
	// switchUser is true when this process is root and children must drop
	// to uid/gid; false means children run as the current user.
	switchUser bool
	uid, gid   int
	home       string
}

// serverAccount returns the identity for server processes, computed once.
var serverAccount = sync.OnceValues(func() (account, error) {
	if os.Geteuid() != 0 {
		return account{uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := user.Lookup(serverUser)
	if err != nil {
		return account{}, fmt.Errorf("localdeploy: running as root, and Postgres refuses to run as root, but OS user %q is not available: %w", serverUser, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return account{}, fmt.Errorf("localdeploy: OS user %q: %w", serverUser, err)
	}
	return account{switchUser: true, uid: uid, gid: gid, home: u.HomeDir}, nil
})

// chown gives path to the server account (no-op when not switching user).
func (a account) chown(path string) error {
	if !a.switchUser {
		return nil
	}
	if err := os.Lchown(path, a.uid, a.gid); err != nil {
		return fmt.Errorf("localdeploy: chown %s: %w", path, err)
	}
	return nil
}

// env is the environment of child processes: ours without PG* and locale
// variables (they would redirect pg_basebackup or translate the server
// messages we match on), plus the C locale.
func (a account) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PG") || strings.HasPrefix(name, "LC_") || name == "LANG" || name == "LANGUAGE" ||
			(a.switchUser && (name == "HOME" || name == "USER" || name == "LOGNAME")) {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "LC_ALL=C", "LANG=C")
	if a.switchUser {
		env = append(env, "HOME="+a.home, "USER="+serverUser, "LOGNAME="+serverUser)
	}
	return env
}

// prepareDataDir creates dir as an empty directory with mode 0700 owned by
// the server account, and makes every ancestor traversable by it. It fails
// if dir exists and is not empty.
func (a account) prepareDataDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && len(entries) > 0:
		return fmt.Errorf("localdeploy: data directory %s exists and is not empty", dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("localdeploy: data directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("localdeploy: data directory: %w", err)
	}
	// Postgres insists on 0700 or 0750 for its data directory.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("localdeploy: data directory: %w", err)
	}
	if err := a.chown(dir); err != nil {
		return err
	}
	return a.makeTraversable(filepath.Dir(dir))
}

// makeTraversable adds the execute bit for others to dir and each of its
// ancestors that lacks it, so that the server account can reach a data
// directory below them (os.MkdirTemp makes 0700 directories owned by
// root). It does nothing unless we switch user.
func (a account) makeTraversable(dir string) error {
	if !a.switchUser {
		return nil
	}
	for {
		info, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("localdeploy: %w", err)
		}
		if info.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(dir, info.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("localdeploy: make %s traversable for %s: %w", dir, serverUser, err)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

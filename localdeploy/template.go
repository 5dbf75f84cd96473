package localdeploy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Every instance is a copy of one data directory made by initdb, with the
// database `app` already created. The template is cached under
// os.TempDir(), keyed by everything that shapes it; a change to how it is
// built must bump templateFormat.

// templateFormat versions the way the template is built.
const templateFormat = 1

// initdbArgs are the initdb options, the data directory aside.
var initdbArgs = []string{"--username=postgres", "--encoding=UTF8", "--locale=C", "--auth=trust", "--no-sync"}

// hbaConf replaces initdb's pg_hba.conf: trust on 127.0.0.1, replication
// included; there is no unix socket.
const hbaConf = `# Written by sqlrouter localdeploy: local test and dev servers only.
# TYPE  DATABASE     USER  ADDRESS       METHOD
host    all          all   127.0.0.1/32  trust
host    replication  all   127.0.0.1/32  trust
`

// templateSetup lists the SQL run on the template after initdb.
var templateSetup = []string{"CREATE DATABASE app"}

// templates remembers the templates this process has checked.
var templates struct {
	sync.Mutex
	ready map[string]bool
}

// ensureTemplate returns the template data directory for bin, building it
// first if no process has. Building happens under an flock, so parallel
// test binaries wait for one build rather than race, and ends with an
// atomic rename, so a crashed build never leaves a half template.
func ensureTemplate(ctx context.Context, bin Binaries, a account, logger *slog.Logger) (string, error) {
	dir := filepath.Join(os.TempDir(), "sqlrouter-pgtemplate-"+templateKey(bin, a))
	templates.Lock()
	defer templates.Unlock()
	if templates.ready[dir] && templateValid(dir) {
		return dir, nil
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if !templateValid(dir) {
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("localdeploy: remove broken template: %w", err)
		}
		began := time.Now()
		if err := buildTemplate(ctx, bin, a, logger, dir); err != nil {
			return "", err
		}
		logger.Info("built postgres template", "dir", dir, "elapsed", time.Since(began).Round(time.Millisecond))
	}
	if templates.ready == nil {
		templates.ready = map[string]bool{}
	}
	templates.ready[dir] = true
	return dir, nil
}

// templateKey names a template by server version, the user that owns it,
// the format and a hash of everything that goes into building it.
func templateKey(bin Binaries, a account) string {
	h := sha256.New()
	fmt.Fprintf(h, "format=%d\x00bin=%s\x00version=%s\x00", templateFormat, bin.Dir, bin.FullVersion)
	fmt.Fprintf(h, "initdb=%s\x00hba=%s\x00setup=%s", strings.Join(initdbArgs, "\x00"), hbaConf, strings.Join(templateSetup, ";"))
	return fmt.Sprintf("pg%s-uid%d-f%d-%x", bin.FullVersion, a.uid, templateFormat, h.Sum(nil)[:6])
}

// templateValid reports whether dir looks like a finished template.
func templateValid(dir string) bool {
	for _, f := range []string{"PG_VERSION", "global/pg_control", "pg_hba.conf"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// buildTemplate runs initdb into a staging directory, creates the
// database `app` in it, and renames it to dir.
func buildTemplate(ctx context.Context, bin Binaries, a account, logger *slog.Logger, dir string) (err error) {
	stale, _ := filepath.Glob(dir + ".tmp-*")
	for _, s := range stale { // left by a crashed build; we hold the lock
		_ = os.RemoveAll(s)
	}
	staging := fmt.Sprintf("%s.tmp-%d", dir, os.Getpid())
	defer func() {
		if err != nil {
			_ = os.RemoveAll(staging)
		}
	}()
	if err := a.prepareDataDir(staging); err != nil {
		return err
	}
	if err := runTool(ctx, a, bin.Path("initdb"), append([]string{"-D", staging}, initdbArgs...)...); err != nil {
		return err
	}
	hba := filepath.Join(staging, "pg_hba.conf")
	if err := os.WriteFile(hba, []byte(hbaConf), 0o600); err != nil {
		return fmt.Errorf("localdeploy: %w", err)
	}
	if err := a.chown(hba); err != nil {
		return err
	}
	p, err := newPostgres(bin, PostgresOptions{DataDir: staging, Name: "template", Logger: logger}, nil)
	if err != nil {
		return err
	}
	if err := p.startNew(ctx, 0); err != nil {
		return err
	}
	setupErr := runSetup(ctx, p.DSN("postgres"))
	if err := errors.Join(setupErr, p.Stop(ctx)); err != nil {
		return err
	}
	for name := range skipOnCopy {
		_ = os.Remove(filepath.Join(staging, name))
	}
	if err := os.Rename(staging, dir); err != nil {
		return fmt.Errorf("localdeploy: %w", err)
	}
	return nil
}

// runSetup runs templateSetup on the template server.
func runSetup(ctx context.Context, dsn string) error {
	conn, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("localdeploy: template setup: %w", err)
	}
	defer conn.Close(ctx)
	for _, sql := range templateSetup {
		if _, err := conn.Exec(ctx, sql).ReadAll(); err != nil {
			return fmt.Errorf("localdeploy: template setup %q: %w", sql, err)
		}
	}
	return nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can end
// the wait, and returns the function that releases it.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("localdeploy: template lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("localdeploy: template lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("localdeploy: waiting for template lock %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

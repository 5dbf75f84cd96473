package localdeploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// PostgresOptions configures one Postgres server.
type PostgresOptions struct {
	// DataDir is created; it must not exist or be empty.
	DataDir string
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// Settings are extra -c settings, applied after the package's own.
	Settings map[string]string
	// Logger receives Info "started" lines and Debug details; nil discards.
	// The server's own log goes to DataDir/server.log.
	Logger *slog.Logger
	// Name labels the instance in logs and, for a replica, is its
	// application_name on the primary; default the base name of DataDir.
	Name string
}

// Postgres is one server process on 127.0.0.1, a child of this process.
// Its methods are safe for concurrent use.
type Postgres struct {
	bin      Binaries
	acct     account
	name     string
	dataDir  string
	settings map[string]string
	logger   *slog.Logger

	mu   sync.Mutex // serialises start, stop, kill and restart
	port int
	proc *serverProcess // nil while stopped
}

// serverProcess is one run of the postmaster.
type serverProcess struct {
	pid  int
	done chan struct{} // closed once the postmaster is reaped
	err  error         // Wait's result, valid after done
}

// errPortInUse marks a start that failed because the port was taken.
var errPortInUse = errors.New("port already in use")

// StartPostgres creates a new server in opts.DataDir from the initdb
// template (initdb runs once per machine and version, see template.go) and
// starts it, returning once it accepts connections. The databases
// `postgres` and `app` exist; the superuser `postgres` connects without a
// password from 127.0.0.1.
func StartPostgres(ctx context.Context, bin Binaries, opts PostgresOptions) (*Postgres, error) {
	p, err := newPostgres(bin, opts, nil)
	if err != nil {
		return nil, err
	}
	tmpl, err := ensureTemplate(ctx, bin, p.acct, p.logger)
	if err != nil {
		return nil, err
	}
	if err := p.acct.prepareDataDir(p.dataDir); err != nil {
		return nil, err
	}
	if err := copyDataDir(tmpl, p.dataDir, p.acct); err != nil {
		return nil, err
	}
	if err := p.startNew(ctx, opts.Port); err != nil {
		return nil, err
	}
	return p, nil
}

// newPostgres checks opts and builds a stopped Postgres.
func newPostgres(bin Binaries, opts PostgresOptions, inherited map[string]string) (*Postgres, error) {
	if opts.DataDir == "" {
		return nil, errors.New("localdeploy: PostgresOptions.DataDir is empty")
	}
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("localdeploy: %w", err)
	}
	acct, err := serverAccount()
	if err != nil {
		return nil, err
	}
	name := opts.Name
	if name == "" {
		name = filepath.Base(dir)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Postgres{
		bin:      bin,
		acct:     acct,
		name:     name,
		dataDir:  dir,
		settings: mergeSettings(baseSettings(), inherited, opts.Settings),
		logger:   logger,
	}, nil
}

// DSN returns a connection URL for database as the superuser, e.g.
// "postgres://postgres@127.0.0.1:5432/app?sslmode=disable".
func (p *Postgres) DSN(database string) string {
	return dsn(p.Port(), database)
}

func dsn(port int, database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, database)
}

// Port returns the TCP port on 127.0.0.1. It stays the same across
// Restart.
func (p *Postgres) Port() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.port
}

// PID returns the postmaster's process id, or 0 while stopped.
func (p *Postgres) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return 0
	}
	return p.proc.pid
}

// Name returns the label given in PostgresOptions.Name.
func (p *Postgres) Name() string { return p.name }

// DataDir returns the absolute data directory.
func (p *Postgres) DataDir() string { return p.dataDir }

// LogPath returns the server log, DataDir/server.log.
func (p *Postgres) LogPath() string { return filepath.Join(p.dataDir, "server.log") }

// Settings returns a copy of the -c settings the server runs with.
func (p *Postgres) Settings() map[string]string { return maps.Clone(p.settings) }

// startNew starts a freshly created data directory, on port or, when port
// is 0, on a free port, retrying on another one if it was taken meanwhile.
func (p *Postgres) startNew(ctx context.Context, port int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for attempt := 1; ; attempt++ {
		p.port = port
		if port == 0 {
			var err error
			if p.port, err = freePort(); err != nil {
				return err
			}
		}
		err := p.launch(ctx, attempt == 1)
		if err == nil {
			return nil
		}
		if port != 0 || !errors.Is(err, errPortInUse) || attempt == maxPortAttempts {
			return err
		}
		p.logger.Debug("port taken, retrying on another", "instance", p.name, "port", p.port)
	}
}

// Restart starts the server again on the same data directory and port,
// after Stop or Kill, and waits until it accepts connections (a primary
// first replays its WAL after a Kill).
func (p *Postgres) Restart(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil {
		return fmt.Errorf("localdeploy: restart %s: still running as pid %d", p.name, p.proc.pid)
	}
	return p.launch(ctx, false)
}

// launch starts the postmaster on p.port and waits until it accepts
// connections. On failure nothing is left running. Called with p.mu held.
func (p *Postgres) launch(ctx context.Context, truncateLog bool) error {
	began := time.Now()
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if truncateLog {
		flags |= os.O_TRUNC
	}
	logFile, err := os.OpenFile(p.LogPath(), flags, 0o600)
	if err != nil {
		return fmt.Errorf("localdeploy: server log: %w", err)
	}
	// Owned by the server account: pg_basebackup reads the whole data dir.
	if err := p.acct.chown(logFile.Name()); err != nil {
		logFile.Close()
		return err
	}
	args := append([]string{"-D", p.dataDir, "-p", strconv.Itoa(p.port)}, settingArgs(p.settings)...)
	cmd := command(p.bin.Path("postgres"), args, p.acct)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	p.logger.Debug("starting postgres", "instance", p.name, "cmd", cmd.String())
	err = startChild(cmd)
	logFile.Close() // the child has its own copy
	if err != nil {
		return fmt.Errorf("localdeploy: start postgres %s: %w", p.name, err)
	}
	proc := &serverProcess{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		proc.err = cmd.Wait()
		close(proc.done)
	}()
	if err := p.waitReady(ctx, proc); err != nil {
		killGroup(proc, 5*time.Second)
		return err
	}
	p.proc = proc
	p.logger.Info("started postgres", "instance", p.name, "port", p.port, "pid", proc.pid, "dir", p.dataDir,
		"elapsed", time.Since(began).Round(time.Millisecond))
	return nil
}

// Stop shuts the server down fast (SIGINT: open transactions roll back,
// then a shutdown checkpoint) and waits for it to exit. When ctx ends
// first it SIGKILLs the server's whole process group. Stop on a stopped
// server does nothing.
func (p *Postgres) Stop(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	proc := p.proc
	if proc == nil {
		return nil
	}
	p.proc = nil
	select {
	case <-proc.done:
		// It died on its own; its orphans may still be shutting down.
		killGroup(proc, 5*time.Second)
		p.logger.Debug("postgres had already exited", "instance", p.name, "err", proc.err)
		return nil
	default:
		_ = syscall.Kill(proc.pid, syscall.SIGINT)
	}
	select {
	case <-proc.done:
		// A fast shutdown waits for every backend, but make sure.
		killGroup(proc, 5*time.Second)
		p.logger.Debug("stopped postgres", "instance", p.name, "port", p.port)
		return nil
	case <-ctx.Done():
		killGroup(proc, 10*time.Second)
		p.logger.Debug("killed postgres after stop deadline", "instance", p.name, "port", p.port)
		return fmt.Errorf("localdeploy: stop %s: %w; killed it", p.name, ctx.Err())
	}
}

// Kill simulates a crash: SIGKILL to the postmaster and every backend at
// once, like a container dying, so that no backend executes anything
// after Kill returns. It reaps the postmaster and waits until none of its
// processes is left, so that Restart finds the shared memory free. Kill on
// a stopped server does nothing.
func (p *Postgres) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	proc := p.proc
	if proc == nil {
		return nil
	}
	p.proc = nil
	if !killGroup(proc, 10*time.Second) {
		return fmt.Errorf("localdeploy: kill %s: processes of group %d still alive", p.name, proc.pid)
	}
	p.logger.Debug("killed postgres", "instance", p.name, "port", p.port)
	return nil
}

// killGroup SIGKILLs the server led by proc: the postmaster, its process
// group and its children. The children are not in the group: every
// postmaster child calls setsid() (InitPostmasterChild), so a signal to the
// group alone leaves the backends running until they notice that the
// postmaster is gone, long enough to execute a COMMIT that was on its way,
// which a crash would not. So the postmaster is frozen first (it forks no
// child after they are listed), then all die at once. killGroup reaps the
// leader, waits up to timeout for every process to be gone, and reports
// whether they are.
func killGroup(proc *serverProcess, timeout time.Duration) bool {
	var children []int
	select {
	case <-proc.done:
		// The leader is reaped: its pid may be reused, but not as a
		// process group id while members of the old group live on. Its
		// orphaned children are not ours to find any more.
	default:
		children = freezeAndListChildren(proc.pid)
		for _, c := range children {
			_ = syscall.Kill(c, syscall.SIGKILL)
		}
		_ = syscall.Kill(-proc.pid, syscall.SIGKILL)
		<-proc.done
	}
	if waitGroupGone(proc.pid, children, timeout) {
		return true
	}
	_ = syscall.Kill(-proc.pid, syscall.SIGKILL)
	for _, c := range children {
		_ = syscall.Kill(c, syscall.SIGKILL)
	}
	return waitGroupGone(proc.pid, children, timeout)
}

// waitGroupGone polls until process group pgid has no live member and
// none of pids lives, or the timeout passes, and reports whether they are
// gone.
func waitGroupGone(pgid int, pids []int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for groupAlive(pgid) || slices.ContainsFunc(pids, processAlive) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

package localdeploy

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// waitReady polls with real connections until the server accepts one (a
// standby accepts them once it reaches a consistent state), the process
// exits, or ctx ends. Errors carry the tail of server.log; an exit caused
// by a taken port wraps errPortInUse.
func (p *Postgres) waitReady(ctx context.Context, proc *serverProcess) error {
	target := dsn(p.port, "postgres") // p.mu is held
	// An attempt can hang on a port that someone else's listener holds;
	// end it as soon as the server exits.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-proc.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	backoff := 5 * time.Millisecond
	var lastErr error
	for {
		select {
		case <-proc.done:
			return p.exitedError(proc)
		default:
		}
		attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgconn.Connect(attemptCtx, target)
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		lastErr = err
		select {
		case <-proc.done:
			return p.exitedError(proc)
		case <-ctx.Done():
			select {
			case <-proc.done: // it was the exit that ended ctx
				return p.exitedError(proc)
			default:
			}
			return fmt.Errorf("localdeploy: postgres %s on port %d not ready: %w (last attempt: %v)\nserver.log tail:\n%s",
				p.name, p.port, ctx.Err(), lastErr, p.logTail())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// exitedError describes a postmaster that exited during startup.
func (p *Postgres) exitedError(proc *serverProcess) error {
	tail := p.logTail()
	err := fmt.Errorf("localdeploy: postgres %s exited during startup (%v)\nserver.log tail:\n%s", p.name, proc.err, tail)
	if strings.Contains(tail, "could not bind") || strings.Contains(tail, "could not create any TCP/IP sockets") {
		return fmt.Errorf("%w: %w", errPortInUse, err)
	}
	return err
}

// logTail returns the last lines of server.log, for error messages.
func (p *Postgres) logTail() string {
	return fileTail(p.LogPath(), 4096, 25)
}

// fileTail returns at most the last maxLines lines within the last
// maxBytes bytes of path, or a note saying why it cannot.
func fileTail(path string, maxBytes int64, maxLines int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "(" + err.Error() + ")"
	}
	offset := max(info.Size()-maxBytes, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, offset, info.Size()-offset))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if offset > 0 && len(lines) > 1 {
		lines = lines[1:] // the first line is probably cut
	}
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.Join(lines, "\n")
}

package crashtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/localdeploy"
	"github.com/sqlrouter/sqlrouter/txn"
)

// routerOptions are the settings of a router process that tests vary.
type routerOptions struct {
	// ID is the router_id.
	ID string
	// LeaseTTL, RecoveryInterval and NoDecisionTimeout are the txn
	// settings; zero takes short test defaults.
	LeaseTTL, RecoveryInterval, NoDecisionTimeout time.Duration
	// DecisionPrefix is txn.decision_prefix ("" = the default).
	DecisionPrefix string
	// MapKey is the etcd key of the shard map ("" = mapKey).
	MapKey string
}

// routerProc is a `sqlrouter serve` process on a fixed address, which a
// test can kill and start again.
type routerProc struct {
	t       testing.TB
	opts    routerOptions
	addr    string
	cfgPath string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	starts  int
}

// startRouter writes the router's configuration, starts it and waits
// until it serves clients. The process is killed when the test ends.
func startRouter(t testing.TB, opts routerOptions) *routerProc {
	t.Helper()
	setup(t)
	if opts.LeaseTTL == 0 {
		opts.LeaseTTL = 2 * time.Second
	}
	if opts.RecoveryInterval == 0 {
		opts.RecoveryInterval = 200 * time.Millisecond
	}
	if opts.NoDecisionTimeout == 0 {
		opts.NoDecisionTimeout = 2 * time.Second
	}
	dir := t.TempDir()
	r := &routerProc{t: t, opts: opts, addr: freeAddr(t), cfgPath: filepath.Join(dir, "sqlrouter.yaml"), logPath: filepath.Join(dir, "router.log")}
	cfg := fmt.Sprintf(`listen: %s
router_id: %s
etcd:
  endpoints: [%s]
  key: %s
txn:
  lease_ttl: %s
  recovery_interval: %s
  no_decision_timeout: %s
  decision_prefix: %s
log:
  level: info
`, r.addr, opts.ID, strings.Join(dep.Etcd.Endpoints(), ", "), cmp.Or(opts.MapKey, mapKey), opts.LeaseTTL, opts.RecoveryInterval, opts.NoDecisionTimeout, cmp.Or(opts.DecisionPrefix, txn.DefaultDecisionPrefix))
	if err := os.WriteFile(r.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Kill()
		if t.Failed() {
			r.dumpLog()
		}
	})
	r.Start()
	return r
}

// freeAddr returns a 127.0.0.1 address with a port nobody listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// DSN is the connection string of the router.
func (r *routerProc) DSN() string {
	return fmt.Sprintf("postgres://app@%s/app?sslmode=disable", r.addr)
}

// Start starts the process (again) and waits until a client can run a
// statement through it.
func (r *routerProc) Start() {
	t := r.t
	t.Helper()
	log, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	r.starts++
	fmt.Fprintf(log, "---- start %d\n", r.starts)
	cmd := exec.Command(routerBin, "serve", "--config", r.cfgPath)
	cmd.Stdout, cmd.Stderr = log, log
	if err := localdeploy.StartChild(cmd); err != nil {
		t.Fatalf("start router %s: %v", r.opts.ID, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	r.cmd, r.exited = cmd, exited
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		err := ping(ctx, r.DSN())
		if err == nil {
			return
		}
		select {
		case <-exited:
			t.Fatalf("router %s exited at start: %v", r.opts.ID, cmd.ProcessState)
		case <-ctx.Done():
			t.Fatalf("router %s not serving after 30 s: %v", r.opts.ID, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Kill SIGKILLs the process and waits until it is gone; it does nothing
// when the process is not running.
func (r *routerProc) Kill() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
	r.cmd = nil
}

// ping runs SELECT 1 through a new connection.
func ping(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return err
	}
	if one != 1 {
		return errors.New("SELECT 1 did not return 1")
	}
	return nil
}

// dumpLog shows the end of the router's log in the test output.
func (r *routerProc) dumpLog() {
	data, err := os.ReadFile(r.logPath)
	if err != nil {
		return
	}
	const tail = 8000
	if len(data) > tail {
		data = data[len(data)-tail:]
	}
	r.t.Logf("router %s log (end):\n%s", r.opts.ID, data)
}

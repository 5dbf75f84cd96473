package drivertest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/devstack"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// scenario is what one driver's run needs: where and how to log in, and
// keys of its own so that drivers do not see each other's rows.
type scenario struct {
	driver   string
	host     string
	port     string
	password string
	rootCert string
	// preparedID is the customer the prepared statement inserts and reads;
	// txnIDs are two customers on different clusters, written in the
	// transactions.
	preparedID int64
	txnIDs     [2]int64
}

// newScenario picks the driver's keys: txnIDs[0] on s0, txnIDs[1] on s1.
func newScenario(t *testing.T, driver string) scenario {
	t.Helper()
	host, port, err := net.SplitHostPort(stack.Router.Addr())
	if err != nil {
		t.Fatal(err)
	}
	return scenario{
		driver: driver, host: host, port: port, password: stack.Password, rootCert: stack.CertFile,
		preparedID: keyOn(t, "s0"), txnIDs: [2]int64{keyOn(t, "s0"), keyOn(t, "s1")},
	}
}

// appName is the application_name the driver sets, by which the test finds
// its backend session.
func (s scenario) appName() string { return "drivertest-" + s.driver }

// name is the customer name the prepared statement writes and reads back.
func (s scenario) name() string { return "driver " + s.driver }

// env passes the scenario to a driver program.
func (s scenario) env() []string {
	return []string{
		"SCENARIO_HOST=" + s.host,
		"SCENARIO_PORT=" + s.port,
		"SCENARIO_USER=" + devstack.User,
		"SCENARIO_PASSWORD=" + s.password,
		"SCENARIO_DATABASE=" + devstack.Database,
		"SCENARIO_ROOTCERT=" + s.rootCert,
		"SCENARIO_APP=" + s.appName(),
		"SCENARIO_NAME=" + s.name(),
		"SCENARIO_PREPARED_ID=" + strconv.FormatInt(s.preparedID, 10),
		"SCENARIO_TXN_ID1=" + strconv.FormatInt(s.txnIDs[0], 10),
		"SCENARIO_TXN_ID2=" + strconv.FormatInt(s.txnIDs[1], 10),
	}
}

// want is what every driver prints, step by step.
func (s scenario) want() []string {
	return []string{
		"connected",             // TLS (verify-full; the router requires TLS) and SCRAM
		"bad password: 28P01",   // a wrong password is refused
		"prepared: " + s.name(), // a prepared statement with parameters
		"rollback: 0",           // a transaction over two clusters, rolled back
		"commit: 2",             // and committed
		"error: 22012",          // an error
		"recovered: 1",          // and the session goes on
		"aborted: 25P02",        // an error inside a transaction aborts it
		"after rollback: 1",     // until ROLLBACK
		"sleeping",              // pg_sleep(60) runs ...
		"cancel: 57014",         // ... and the driver cancels it
		"after cancel: 1",       // the session goes on
	}
}

// driverRun is a running scenario: its output lines (the channel closes
// when the driver is done), a way to make it cancel its running
// statement, and its end.
type driverRun struct {
	lines     <-chan string
	interrupt func() error
	wait      func() error
	// output is everything else the driver printed, for failure messages.
	output func() string
}

// startProcess runs a driver program with the scenario in its
// environment. The program prints the scenario's lines on standard output
// and cancels its sleeping statement when a line arrives on standard input.
func startProcess(t *testing.T, s scenario, cmd *exec.Cmd) driverRun {
	t.Helper()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, s.env()...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return driverRun{
		lines: scanLines(stdout),
		interrupt: func() error {
			_, err := io.WriteString(stdin, "cancel\n")
			return err
		},
		wait:   cmd.Wait,
		output: stderr.String,
	}
}

// scanLines reads r line by line into a channel closed at the end.
func scanLines(r io.Reader) <-chan string {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- strings.TrimRight(sc.Text(), "\r")
		}
	}()
	return lines
}

// check collects a run's lines, asks it to cancel once its pg_sleep runs
// on the backend, and compares what it printed with the scenario's
// lines. Rows the scenario wrote are checked on the clusters directly.
func check(t *testing.T, s scenario, run driverRun) {
	t.Helper()
	checkLines(t, s, run, s.want())
}

// checkLines is check with the lines the driver must print.
func checkLines(t *testing.T, s scenario, run driverRun, want []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var got []string
	interrupted := make(chan error, 1)
	for done := false; !done; {
		select {
		case line, ok := <-run.lines:
			if !ok {
				done = true
				break
			}
			got = append(got, line)
			if line == "sleeping" {
				go func() { interrupted <- interruptWhenSleeping(ctx, s, run) }()
			}
		case <-ctx.Done():
			t.Fatalf("%s did not finish; printed so far:\n%s\n%s", s.driver, strings.Join(got, "\n"), run.output())
		}
	}
	err := run.wait()
	if slices.Contains(got, "sleeping") {
		if ierr := <-interrupted; ierr != nil {
			t.Errorf("%s: interrupt: %v", s.driver, ierr)
		}
	}
	if err != nil {
		t.Errorf("%s exited with %v", s.driver, err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s printed\n  %s\nwant\n  %s\nits other output:\n%s", s.driver, strings.Join(got, "\n  "), strings.Join(want, "\n  "), run.output())
	}
	checkRows(t, s)
}

// interruptWhenSleeping waits until the driver's pg_sleep is running on
// the default cluster's primary (where a statement without tables goes),
// then asks the driver to cancel it.
func interruptWhenSleeping(ctx context.Context, s scenario, run driverRun) error {
	c, err := pgx.Connect(ctx, stack.Info().Clusters["s0"].Primary)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	for {
		var n int
		err := c.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query LIKE '%pg_sleep%'", s.appName()).Scan(&n)
		if err != nil {
			return fmt.Errorf("watching for pg_sleep: %w", err)
		}
		if n > 0 {
			return run.interrupt()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// checkRows checks on the primaries that the committed rows are where
// the shard map puts them.
func checkRows(t *testing.T, s scenario) {
	t.Helper()
	for i, id := range append([]int64{s.preparedID}, s.txnIDs[:]...) {
		owner := []string{"s0", "s0", "s1"}[i]
		c, err := pgx.Connect(context.Background(), stack.Info().Clusters[owner].Primary)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = c.QueryRow(context.Background(), "SELECT count(*) FROM customers WHERE id = $1", id).Scan(&n)
		c.Close(context.Background())
		if err != nil || n != 1 {
			t.Errorf("%s: customer %d on %s: %d rows, %v; want 1", s.driver, id, owner, n, err)
		}
	}
}

// keyOn returns a new customer id that the shard map places on cluster.
func keyOn(t *testing.T, cluster string) int64 {
	t.Helper()
	d := stack.Router.Snapshot().Map.Distributions["by_customer"]
	for range 10000 {
		var b [4]byte
		rand.Read(b[:])
		id := int64(binary.BigEndian.Uint32(b[:]) >> 1)
		owner, err := d.ClusterFor(shardmap.IntKey(id))
		if err != nil {
			t.Fatal(err)
		}
		if owner == cluster {
			return id
		}
	}
	t.Fatalf("no key found for cluster %s", cluster)
	return 0
}

package crashtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/txn"
)

// These tests drive txn.Coordinator directly, with real backend sessions
// and the etcd decision log, to stop a two-phase commit at exact points
// that random kills only hit by chance.

// stepParticipant is a backend session to a primary as a txn.Participant;
// before, when set, runs ahead of each command and, by returning an
// error, keeps the command from being sent (the router died).
type stepParticipant struct {
	cluster string
	conn    *pgconn.PgConn
	before  func(cluster, sql string) error
}

func (p *stepParticipant) Cluster() string { return p.cluster }

func (p *stepParticipant) Exec(ctx context.Context, sql string) error {
	if p.before != nil {
		if err := p.before(p.cluster, sql); err != nil {
			return err
		}
	}
	_, err := p.conn.Exec(ctx, sql).ReadAll()
	return err
}

// errRouterDied stands for a router that died before sending a command.
var errRouterDied = errors.New("router died")

// startTwoClusterTxn gives a fresh crash_rows table on every primary and
// opens, on each, a session inside a transaction that inserted tx there.
func startTwoClusterTxn(ctx context.Context, t *testing.T, tx string) []*stepParticipant {
	t.Helper()
	var ps []*stepParticipant
	for _, c := range dep.Clusters {
		conn, err := pgconn.Connect(ctx, c.Primary.DSN("app"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		for _, sql := range []string{"DROP TABLE IF EXISTS crash_rows; CREATE TABLE crash_rows (tx text)", fmt.Sprintf("BEGIN; INSERT INTO crash_rows VALUES ('%s')", tx)} {
			if _, err := conn.Exec(ctx, sql).ReadAll(); err != nil {
				t.Fatal(err)
			}
		}
		ps = append(ps, &stepParticipant{cluster: c.Name, conn: conn})
	}
	return ps
}

// rowsOf counts tx's rows on each primary.
func rowsOf(ctx context.Context, t *testing.T, tx string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, c := range dep.Clusters {
		out[c.Name] = queryInts(ctx, t, c.Primary.DSN("app"), "SELECT count(*) FROM crash_rows WHERE tx = '"+tx+"'")[0]
	}
	return out
}

func asParticipants(ps []*stepParticipant) []txn.Participant {
	out := make([]txn.Participant, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

// primaries maps every cluster to its primary, as Recovery wants them.
func primaries() map[string]string {
	out := map[string]string{}
	for _, c := range dep.Clusters {
		out[c.Name] = c.Primary.DSN("app")
	}
	return out
}

// recoverAs runs one recovery pass as router id over prefix.
func recoverAs(ctx context.Context, t *testing.T, id, prefix string) txn.Report {
	t.Helper()
	rec := txn.NewRecovery(txn.RecoveryOptions{RouterID: id, Log: txn.NewEtcdLog(etcdCli, id, prefix), Primaries: primaries})
	rep, err := rec.RecoverOnce(ctx)
	if err != nil {
		t.Fatalf("recovery: %v", err)
	}
	return rep
}

// The router dies right after the decision is recorded, before the first
// COMMIT PREPARED. At that instant the commit decision is in etcd and
// nothing is committed anywhere; the commit counts as done (the client is
// told so when the router lives to tell it), and recovery by the restarted
// router finishes it on both clusters.
func TestDecisionIsDurableBeforeCommitPrepared(t *testing.T) {
	setup(t)
	ctx := testContext(t, time.Minute)
	const prefix = "/crashtest/order/txn/"
	ps := startTwoClusterTxn(ctx, t, "t1")
	var once sync.Once
	var txid string
	for _, p := range ps {
		p.before = func(cluster, sql string) error {
			gid, ok := strings.CutPrefix(sql, "COMMIT PREPARED ")
			if !ok {
				return nil
			}
			once.Do(func() {
				g, _ := txn.ParseGID(strings.Trim(gid, "'"))
				txid = g.Txn
				d, found, err := txn.NewEtcdLog(etcdCli, "order", prefix).Lookup(ctx, txid)
				if err != nil || !found || d.Decision != txn.Commit {
					t.Errorf("at the first COMMIT PREPARED (%s), the decision in etcd is %+v, found=%v, err=%v; want commit", cluster, d, found, err)
				}
				if got := rowsOf(ctx, t, "t1"); got["s0"]+got["s1"] != 0 {
					t.Errorf("rows visible before any COMMIT PREPARED: %v", got)
				}
			})
			return errRouterDied
		}
	}
	coord := txn.NewCoordinator("order", txn.NewEtcdLog(etcdCli, "order", prefix), nil)
	if err := coord.Commit(ctx, asParticipants(ps)); err != nil {
		t.Fatalf("Commit after a durable decision: %v, want success", err)
	}
	if txid == "" {
		t.Fatal("no COMMIT PREPARED was attempted")
	}
	for _, c := range []string{"s0", "s1"} {
		if !isPrepared(ctx, t, c, txid+"."+c) {
			t.Errorf("%s.%s is not prepared", txid, c)
		}
	}
	rep := recoverAs(ctx, t, "order", prefix)
	if len(rep.Committed) != 2 || len(rep.Forgotten) != 1 {
		t.Errorf("recovery committed %v and forgot %v, want both GIDs and the decision", rep.Committed, rep.Forgotten)
	}
	if got := rowsOf(ctx, t, "t1"); got["s0"] != 1 || got["s1"] != 1 {
		t.Errorf("rows after recovery %v, want one on each cluster", got)
	}
	waitNoPrepared(ctx, t, 0)
}

// The s1 primary is killed between the decision and its COMMIT PREPARED.
// The commit succeeds (s0 committed, the decision is durable), the
// prepared transaction survives s1's crash and restart, and recovery
// commits it there.
func TestPrimaryKilledBetweenDecisionAndCommitPrepared(t *testing.T) {
	setup(t)
	ctx := testContext(t, 2*time.Minute)
	const prefix = "/crashtest/order/txn/"
	ps := startTwoClusterTxn(ctx, t, "t2")
	s1 := dep.Clusters[1].Primary
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if s1.PID() == 0 {
			s1.Restart(ctx)
		}
	})
	ps[1].before = func(_, sql string) error {
		if strings.HasPrefix(sql, "COMMIT PREPARED ") {
			if err := s1.Kill(); err != nil {
				t.Error(err)
			}
		}
		return nil
	}
	coord := txn.NewCoordinator("order", txn.NewEtcdLog(etcdCli, "order", prefix), nil)
	if err := coord.Commit(ctx, asParticipants(ps)); err != nil {
		t.Fatalf("Commit after a durable decision: %v, want success", err)
	}
	if err := s1.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(ctx, t, "t2"); got["s0"] != 1 || got["s1"] != 0 {
		t.Errorf("rows before recovery %v, want s0's only", got)
	}
	left := preparedXacts(ctx, t)
	if len(left) != 1 || !strings.HasPrefix(left[0], "s1:sqlr_order.") {
		t.Fatalf("prepared after s1's restart: %v, want the transaction's s1 part", left)
	}
	rep := recoverAs(ctx, t, "order", prefix)
	if len(rep.Committed) != 1 || len(rep.Forgotten) != 1 {
		t.Errorf("recovery committed %v and forgot %v, want s1's part and the decision", rep.Committed, rep.Forgotten)
	}
	if got := rowsOf(ctx, t, "t2"); got["s0"] != 1 || got["s1"] != 1 {
		t.Errorf("rows after recovery %v, want one on each cluster", got)
	}
}

// failingLog is a decision log that etcd never answers.
type failingLog struct{}

func (failingLog) Record(context.Context, string, txn.Decision, []string) error {
	return errors.New("etcd unreachable")
}
func (failingLog) Forget(context.Context, string) error { return errors.New("etcd unreachable") }

// When the decision cannot be recorded, no COMMIT PREPARED is sent: the
// client gets 08007, the transactions stay prepared, and recovery, which
// finds no decision, rolls them back after the timeout.
func TestNoCommitPreparedWithoutADecision(t *testing.T) {
	setup(t)
	ctx := testContext(t, time.Minute)
	const prefix = "/crashtest/nolog/txn/"
	ps := startTwoClusterTxn(ctx, t, "t3")
	for _, p := range ps {
		p.before = func(cluster, sql string) error {
			if strings.HasPrefix(sql, "COMMIT PREPARED") {
				t.Errorf("%s on %s without a recorded decision", sql, cluster)
			}
			return nil
		}
	}
	err := txn.NewCoordinator("nolog", failingLog{}, nil).Commit(ctx, asParticipants(ps))
	if !errors.Is(err, txn.ErrCommitUnknown) || pgerror.Code(err) != "08007" {
		t.Fatalf("Commit: %v, want ErrCommitUnknown with SQLSTATE 08007", err)
	}
	if n := len(preparedXacts(ctx, t)); n != 2 {
		t.Fatalf("%d prepared transactions, want 2", n)
	}
	rec := txn.NewRecovery(txn.RecoveryOptions{RouterID: "nolog", Log: txn.NewEtcdLog(etcdCli, "nolog", prefix), Primaries: primaries, NoDecisionTimeout: time.Millisecond})
	if rep, err := rec.RecoverOnce(ctx); err != nil || len(rep.RolledBack) != 2 {
		t.Errorf("recovery: %+v, %v; want both rolled back", rep, err)
	}
	if got := rowsOf(ctx, t, "t3"); got["s0"]+got["s1"] != 0 {
		t.Errorf("rows of a transaction without decision: %v", got)
	}
	waitNoPrepared(ctx, t, 0)
}

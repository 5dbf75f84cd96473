package txn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sqlrouter/sqlrouter/pgerror"
)

// callLog records, in order, what participants and the decision log were
// asked to do.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
}

func (l *callLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

type fakeParticipant struct {
	name string
	log  *callLog
	// fail makes commands starting with this prefix fail with a server
	// error (failErr when set).
	fail    string
	failErr error
	// onExec, when set, runs before each command.
	onExec func(sql string)
}

func (p *fakeParticipant) Cluster() string { return p.name }

func (p *fakeParticipant) Exec(_ context.Context, sql string) error {
	if p.onExec != nil {
		p.onExec(sql)
	}
	p.log.add(p.name + ": " + sql)
	if p.fail != "" && strings.HasPrefix(sql, p.fail) {
		if p.failErr != nil {
			return p.failErr
		}
		return pgerror.New("23514", "injected failure")
	}
	return nil
}

// fakeLog logs what it is asked; answers, when set, gives the result of
// each Record call in turn (nil once they run out).
type fakeLog struct {
	log     *callLog
	answers []error
}

func (f *fakeLog) Record(_ context.Context, gid string, d Decision, clusters []string) error {
	f.log.add(fmt.Sprintf("log: record %s %s %v", gid, d, clusters))
	if len(f.answers) == 0 {
		return nil
	}
	err := f.answers[0]
	f.answers = f.answers[1:]
	return err
}

func (f *fakeLog) Forget(_ context.Context, gid string) error {
	f.log.add("log: forget " + gid)
	return nil
}

var errUnavailable = errors.New("etcd unavailable")

func participants(log *callLog, names ...string) []*fakeParticipant {
	var out []*fakeParticipant
	for _, n := range names {
		out = append(out, &fakeParticipant{name: n, log: log})
	}
	return out
}

func asParticipants(ps []*fakeParticipant) []Participant {
	out := make([]Participant, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

// newTestCoordinator returns a coordinator whose epoch is "e", so that
// its GIDs are predictable: sqlr_r1.e.1.s0, ...
func newTestCoordinator(log DecisionLog) *Coordinator {
	c := NewCoordinator("r1", log, nil)
	c.epoch = "e"
	return c
}

// phases splits the calls into groups that may run concurrently: within a
// group the order does not matter.
func phases(calls []string, groups ...int) [][]string {
	var out [][]string
	for _, n := range groups {
		if n > len(calls) {
			n = len(calls)
		}
		g := slices.Clone(calls[:n])
		slices.Sort(g)
		out = append(out, g)
		calls = calls[n:]
	}
	if len(calls) > 0 {
		out = append(out, calls)
	}
	return out
}

func TestOneParticipantCommitsPlainly(t *testing.T) {
	log := &callLog{}
	c := newTestCoordinator(&fakeLog{log: log})
	if err := c.Commit(context.Background(), asParticipants(participants(log, "s0"))); err != nil {
		t.Fatal(err)
	}
	if got := log.list(); !slices.Equal(got, []string{"s0: COMMIT"}) {
		t.Errorf("calls %q", got)
	}
}

func TestTwoPhaseCommitRecordsTheDecisionFirst(t *testing.T) {
	log := &callLog{}
	c := newTestCoordinator(&fakeLog{log: log})
	if err := c.Commit(context.Background(), asParticipants(participants(log, "s0", "s1"))); err != nil {
		t.Fatal(err)
	}
	got := phases(log.list(), 2, 1, 2, 1)
	want := [][]string{
		{"s0: PREPARE TRANSACTION 'sqlr_r1.e.1.s0'", "s1: PREPARE TRANSACTION 'sqlr_r1.e.1.s1'"},
		{"log: record sqlr_r1.e.1 commit [s0 s1]"},
		{"s0: COMMIT PREPARED 'sqlr_r1.e.1.s0'", "s1: COMMIT PREPARED 'sqlr_r1.e.1.s1'"},
		{"log: forget sqlr_r1.e.1"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls\n%q\nwant\n%q", got, want)
	}
}

func TestFailedPrepareRollsBackTheOthers(t *testing.T) {
	log := &callLog{}
	ps := participants(log, "s0", "s1", "s2")
	ps[1].fail = "PREPARE"
	c := newTestCoordinator(&fakeLog{log: log})
	err := c.Commit(context.Background(), asParticipants(ps))
	if !errors.Is(err, ErrCommitFailed) || pgerror.Code(err) != "23514" {
		t.Fatalf("commit error %v, want ErrCommitFailed carrying the cluster's error", err)
	}
	got := phases(log.list(), 3, 2)
	want := [][]string{
		{"s0: PREPARE TRANSACTION 'sqlr_r1.e.1.s0'", "s1: PREPARE TRANSACTION 'sqlr_r1.e.1.s1'", "s2: PREPARE TRANSACTION 'sqlr_r1.e.1.s2'"},
		{"s0: ROLLBACK PREPARED 'sqlr_r1.e.1.s0'", "s2: ROLLBACK PREPARED 'sqlr_r1.e.1.s2'"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls\n%q\nwant\n%q", got, want)
	}
}

// A PREPARE whose answer is lost (the connection broke) may have prepared
// all the same: the coordinator records the abort, so that recovery rolls
// it back at once, rolls back the others, and tells the client that the
// transaction was rolled back.
func TestPrepareWithoutAnswerRecordsTheAbort(t *testing.T) {
	log := &callLog{}
	ps := participants(log, "s0", "s1")
	ps[1].fail, ps[1].failErr = "PREPARE", errors.New("connection reset by peer")
	c := newTestCoordinator(&fakeLog{log: log})
	err := c.Commit(context.Background(), asParticipants(ps))
	if !errors.Is(err, ErrCommitFailed) || pgerror.Code(err) != "40000" || !strings.Contains(err.Error(), "s1") {
		t.Fatalf("commit error %v (SQLSTATE %q), want ErrCommitFailed with 40000 naming s1", err, pgerror.Code(err))
	}
	got := phases(log.list(), 2, 1, 1)
	want := [][]string{
		{"s0: PREPARE TRANSACTION 'sqlr_r1.e.1.s0'", "s1: PREPARE TRANSACTION 'sqlr_r1.e.1.s1'"},
		{"log: record sqlr_r1.e.1 abort [s0 s1]"},
		{"s0: ROLLBACK PREPARED 'sqlr_r1.e.1.s0'"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls\n%q\nwant\n%q", got, want)
	}
}

// A Record that fails may still have been written: the coordinator settles
// the question by recording an abort, which wins when the commit was not
// written, and then rolls back.
func TestUnrecordedDecisionRollsBack(t *testing.T) {
	log := &callLog{}
	c := newTestCoordinator(&fakeLog{log: log, answers: []error{errUnavailable, nil}})
	err := c.Commit(context.Background(), asParticipants(participants(log, "s0", "s1")))
	if !errors.Is(err, ErrCommitFailed) || pgerror.Code(err) != "40000" {
		t.Fatalf("commit error %v (SQLSTATE %q), want ErrCommitFailed with 40000", err, pgerror.Code(err))
	}
	got := phases(log.list(), 2, 1, 1, 2)
	want := [][]string{
		{"s0: PREPARE TRANSACTION 'sqlr_r1.e.1.s0'", "s1: PREPARE TRANSACTION 'sqlr_r1.e.1.s1'"},
		{"log: record sqlr_r1.e.1 commit [s0 s1]"},
		{"log: record sqlr_r1.e.1 abort [s0 s1]"},
		{"s0: ROLLBACK PREPARED 'sqlr_r1.e.1.s0'", "s1: ROLLBACK PREPARED 'sqlr_r1.e.1.s1'"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls\n%q\nwant\n%q", got, want)
	}
}

// When the abort conflicts, the failed commit Record was written after
// all: the transaction is committed.
func TestRecordThatLandedDespiteAnErrorCommits(t *testing.T) {
	log := &callLog{}
	conflict := fmt.Errorf("%w: decided commit", ErrDecisionConflict)
	c := newTestCoordinator(&fakeLog{log: log, answers: []error{errUnavailable, conflict}})
	if err := c.Commit(context.Background(), asParticipants(participants(log, "s0", "s1"))); err != nil {
		t.Fatalf("commit error %v, want success", err)
	}
	got := phases(log.list(), 2, 1, 1, 2, 1)
	if fmt.Sprint(got[3]) != fmt.Sprint([]string{"s0: COMMIT PREPARED 'sqlr_r1.e.1.s0'", "s1: COMMIT PREPARED 'sqlr_r1.e.1.s1'"}) {
		t.Errorf("calls %q", got)
	}
}

// When recovery aborted the transaction first, the commit is refused and
// the participants are rolled back.
func TestTransactionAbortedByRecoveryRollsBack(t *testing.T) {
	log := &callLog{}
	conflict := fmt.Errorf("%w: decided abort", ErrDecisionConflict)
	c := newTestCoordinator(&fakeLog{log: log, answers: []error{conflict}})
	err := c.Commit(context.Background(), asParticipants(participants(log, "s0", "s1")))
	if !errors.Is(err, ErrCommitFailed) {
		t.Fatalf("commit error %v, want ErrCommitFailed", err)
	}
	got := phases(log.list(), 2, 1, 2)
	if fmt.Sprint(got[2]) != fmt.Sprint([]string{"s0: ROLLBACK PREPARED 'sqlr_r1.e.1.s0'", "s1: ROLLBACK PREPARED 'sqlr_r1.e.1.s1'"}) || len(got) != 3 {
		t.Errorf("calls %q", got)
	}
}

// When the log answers neither the commit nor the abort, nobody knows the
// outcome: the prepared transactions stay for recovery, and the client
// gets 08007.
func TestUnknownDecisionLeavesThePreparedTransactions(t *testing.T) {
	log := &callLog{}
	c := newTestCoordinator(&fakeLog{log: log, answers: []error{errUnavailable, errUnavailable}})
	err := c.Commit(context.Background(), asParticipants(participants(log, "s0", "s1")))
	if !errors.Is(err, ErrCommitUnknown) || pgerror.Code(err) != "08007" {
		t.Fatalf("commit error %v (SQLSTATE %q), want ErrCommitUnknown with 08007", err, pgerror.Code(err))
	}
	for _, call := range log.list() {
		if strings.Contains(call, " PREPARED ") {
			t.Errorf("%s although the outcome is unknown", call)
		}
	}
	if c.inFlight.len() != 0 {
		t.Error("the transaction is still in flight: recovery would never resolve it")
	}
}

// Once the decision is recorded the transaction is committed, even if a
// COMMIT PREPARED fails: recovery finishes it, and the decision is kept.
func TestFailedCommitPreparedKeepsTheDecision(t *testing.T) {
	log := &callLog{}
	ps := participants(log, "s0", "s1")
	ps[0].fail = "COMMIT PREPARED"
	c := newTestCoordinator(&fakeLog{log: log})
	if err := c.Commit(context.Background(), asParticipants(ps)); err != nil {
		t.Fatalf("a recorded commit must report success: %v", err)
	}
	for _, call := range log.list() {
		if strings.HasPrefix(call, "log: forget") {
			t.Error("decision forgotten although a participant did not commit")
		}
	}
}

// The transaction is in flight from before its first PREPARE until Commit
// returns, so that the router's own recovery never touches it meanwhile.
func TestTransactionIsInFlightWhileCommitting(t *testing.T) {
	log := &callLog{}
	c := newTestCoordinator(&fakeLog{log: log})
	ps := participants(log, "s0", "s1")
	var mu sync.Mutex
	var notInFlight []string
	for _, p := range ps {
		p.onExec = func(sql string) {
			if !c.InFlight("sqlr_r1.e.1") {
				mu.Lock()
				notInFlight = append(notInFlight, sql)
				mu.Unlock()
			}
		}
	}
	if err := c.Commit(context.Background(), asParticipants(ps)); err != nil {
		t.Fatal(err)
	}
	if len(notInFlight) > 0 {
		t.Errorf("not in flight during %q", notInFlight)
	}
	if c.InFlight("sqlr_r1.e.1") {
		t.Error("still in flight after Commit returned")
	}
}

func TestGIDsAreUniqueAndCarryTheRouter(t *testing.T) {
	log := &callLog{}
	c := NewCoordinator("rA", nil, nil)
	restarted := NewCoordinator("rA", nil, nil)
	for _, c := range []*Coordinator{c, restarted} {
		for range 3 {
			c.Commit(context.Background(), asParticipants(participants(log, "s0", "s1")))
		}
	}
	seen := map[string]bool{}
	for _, call := range log.list() {
		gid, ok := strings.CutPrefix(call[strings.Index(call, ": ")+2:], "PREPARE TRANSACTION ")
		if !ok {
			continue
		}
		gid = strings.Trim(gid, "'")
		g, ok := ParseGID(gid)
		if seen[gid] || !ok || g.Router != "rA" || !strings.HasPrefix(gid, c.GIDPrefix()) || g.String() != gid {
			t.Errorf("gid %s reused, unparseable or without the router's prefix (%+v)", gid, g)
		}
		seen[gid] = true
	}
	if len(seen) != 12 {
		t.Errorf("%d GIDs, want 12", len(seen))
	}
}

func TestInvalidRouterIDFailsCleanly(t *testing.T) {
	log := &callLog{}
	c := NewCoordinator("r.1", &fakeLog{log: log}, nil)
	err := c.Commit(context.Background(), asParticipants(participants(log, "s0", "s1")))
	if !errors.Is(err, ErrCommitFailed) {
		t.Fatalf("commit error %v, want ErrCommitFailed", err)
	}
	if got := phases(log.list(), 2); fmt.Sprint(got) != fmt.Sprint([][]string{{"s0: ROLLBACK", "s1: ROLLBACK"}}) {
		t.Errorf("calls %q", got)
	}
}

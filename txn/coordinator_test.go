package txn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
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

// sorted returns the calls with runs of concurrent ones (same verb) in a
// stable order.
func (l *callLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

type fakeParticipant struct {
	name string
	log  *callLog
	// fail makes commands starting with this prefix fail.
	fail string
}

func (p *fakeParticipant) Cluster() string { return p.name }

func (p *fakeParticipant) Exec(_ context.Context, sql string) error {
	p.log.add(p.name + ": " + sql)
	if p.fail != "" && strings.HasPrefix(sql, p.fail) {
		return errors.New("injected failure")
	}
	return nil
}

type fakeLog struct {
	log  *callLog
	fail bool
}

func (f *fakeLog) Record(_ context.Context, gid string, d Decision, clusters []string) error {
	f.log.add(fmt.Sprintf("log: record %s %d %v", gid, d, clusters))
	if f.fail {
		return errors.New("etcd unavailable")
	}
	return nil
}

func (f *fakeLog) Forget(_ context.Context, gid string) error {
	f.log.add("log: forget " + gid)
	return nil
}

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

// phases splits the calls into groups that may run concurrently: within a
// group the order does not matter.
func phases(calls []string, groups ...int) [][]string {
	var out [][]string
	for _, n := range groups {
		g := slices.Clone(calls[:n])
		slices.Sort(g)
		out = append(out, g)
		calls = calls[n:]
	}
	return out
}

func TestOneParticipantCommitsPlainly(t *testing.T) {
	log := &callLog{}
	c := NewCoordinator("r1", &fakeLog{log: log}, nil)
	if err := c.Commit(context.Background(), asParticipants(participants(log, "s0"))); err != nil {
		t.Fatal(err)
	}
	if got := log.list(); !slices.Equal(got, []string{"s0: COMMIT"}) {
		t.Errorf("calls %q", got)
	}
}

func TestTwoPhaseCommitRecordsTheDecisionFirst(t *testing.T) {
	log := &callLog{}
	c := NewCoordinator("r1", &fakeLog{log: log}, nil)
	if err := c.Commit(context.Background(), asParticipants(participants(log, "s0", "s1"))); err != nil {
		t.Fatal(err)
	}
	got := phases(log.list(), 2, 1, 2, 1)
	want := [][]string{
		{"s0: PREPARE TRANSACTION 'sqlr_r1_1_s0'", "s1: PREPARE TRANSACTION 'sqlr_r1_1_s1'"},
		{"log: record sqlr_r1_1 1 [s0 s1]"},
		{"s0: COMMIT PREPARED 'sqlr_r1_1_s0'", "s1: COMMIT PREPARED 'sqlr_r1_1_s1'"},
		{"log: forget sqlr_r1_1"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls\n%q\nwant\n%q", got, want)
	}
}

func TestFailedPrepareRollsBackTheOthers(t *testing.T) {
	log := &callLog{}
	ps := participants(log, "s0", "s1", "s2")
	ps[1].fail = "PREPARE"
	c := NewCoordinator("r1", &fakeLog{log: log}, nil)
	if err := c.Commit(context.Background(), asParticipants(ps)); err == nil {
		t.Fatal("commit succeeded despite a failed PREPARE")
	}
	got := phases(log.list(), 3, 2)
	want := [][]string{
		{"s0: PREPARE TRANSACTION 'sqlr_r1_1_s0'", "s1: PREPARE TRANSACTION 'sqlr_r1_1_s1'", "s2: PREPARE TRANSACTION 'sqlr_r1_1_s2'"},
		{"s0: ROLLBACK PREPARED 'sqlr_r1_1_s0'", "s2: ROLLBACK PREPARED 'sqlr_r1_1_s2'"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls\n%q\nwant\n%q", got, want)
	}
}

func TestUnrecordedDecisionRollsBack(t *testing.T) {
	log := &callLog{}
	c := NewCoordinator("r1", &fakeLog{log: log, fail: true}, nil)
	err := c.Commit(context.Background(), asParticipants(participants(log, "s0", "s1")))
	if !errors.Is(err, ErrCommitFailed) {
		t.Fatalf("commit error %v, want ErrCommitFailed", err)
	}
	for _, call := range log.list() {
		if strings.Contains(call, "COMMIT PREPARED") {
			t.Errorf("%s without a recorded decision", call)
		}
	}
}

// Once the decision is recorded the transaction is committed, even if a
// COMMIT PREPARED fails: recovery finishes it, and the decision is kept.
func TestFailedCommitPreparedKeepsTheDecision(t *testing.T) {
	log := &callLog{}
	ps := participants(log, "s0", "s1")
	ps[0].fail = "COMMIT PREPARED"
	c := NewCoordinator("r1", &fakeLog{log: log}, nil)
	if err := c.Commit(context.Background(), asParticipants(ps)); err != nil {
		t.Fatalf("a recorded commit must report success: %v", err)
	}
	for _, call := range log.list() {
		if strings.HasPrefix(call, "log: forget") {
			t.Error("decision forgotten although a participant did not commit")
		}
	}
}

func TestGIDsAreUniqueAndCarryTheRouter(t *testing.T) {
	log := &callLog{}
	c := NewCoordinator("rA", nil, nil)
	for range 3 {
		c.Commit(context.Background(), asParticipants(participants(log, "s0", "s1")))
	}
	seen := map[string]bool{}
	for _, call := range log.list() {
		if strings.Contains(call, "PREPARE TRANSACTION") {
			gid := call[strings.Index(call, "'"):]
			if seen[gid] || !strings.HasPrefix(gid, "'"+c.GIDPrefix()) {
				t.Errorf("gid %s reused or without the router's prefix", gid)
			}
			seen[gid] = true
		}
	}
}

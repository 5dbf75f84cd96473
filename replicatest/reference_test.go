package replicatest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A read of a reference table goes to one copy, the default cluster's, on
// a replica when the session's consistency level allows it: the writer of
// a row reads it from the primary while the replicas lag, an eventual
// read from a stale replica, and once the replicas caught up both read a
// replica. A join of a distributed table with a reference table reads
// each cluster's replica, with that cluster's copy.
func TestReferenceReadsOnReplicas(t *testing.T) {
	ctx := ctxT(t)
	code := fmt.Sprintf("r%d", keySeq.Add(1))
	writer, eventual := connect(t), connect(t)
	if _, err := eventual.Exec(ctx, "SET sqlrouter.read_consistency = eventual"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { connect(t).Exec(ctxT(t), "DELETE FROM countries WHERE code = $1", code) })
	caughtUp(t, "s0")
	resume := pauseReplay(t, "s0")
	if _, err := writer.Exec(ctx, "INSERT INTO countries (code, name) VALUES ($1, 'Refland')", code); err != nil {
		t.Fatal(err)
	}
	var roles []string
	for _, r := range lastRoute(t, writer) {
		roles = append(roles, r.cluster+":"+r.role)
	}
	slices.Sort(roles)
	if !slices.Equal(roles, []string{"s0:primary", "s1:primary"}) {
		t.Errorf("the write to the reference table ran on %v, want both primaries", roles)
	}
	country := func(c *pgx.Conn) string {
		t.Helper()
		var name string
		err := c.QueryRow(ctx, "SELECT name FROM countries WHERE code = $1", code).Scan(&name)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		return name
	}
	if got := country(writer); got != "Refland" {
		t.Errorf("the writer read %q, want its own row", got)
	}
	servedBy(t, writer, "s0", "primary")
	if got := country(eventual); got != "" {
		t.Errorf("an eventual read saw %q with replay paused: want the stale replica", got)
	}
	servedBy(t, eventual, "s0", "replica")

	resume()
	caughtUp(t, "s0")
	for _, c := range []*pgx.Conn{writer, eventual} {
		if got := country(c); got != "Refland" {
			t.Errorf("read %q after the replicas caught up", got)
		}
		servedBy(t, c, "s0", "replica")
	}

	caughtUp(t, "s1")
	var n int
	if err := eventual.QueryRow(ctx, "SELECT count(*) FROM customers c JOIN countries k ON k.code = c.country").Scan(&n); err != nil {
		t.Fatal(err)
	}
	var nodes []string
	for _, r := range lastRoute(t, eventual) {
		nodes = append(nodes, r.cluster+":"+r.role)
	}
	slices.Sort(nodes)
	if !slices.Equal(nodes, []string{"s0:replica", "s1:replica"}) {
		t.Errorf("the join with the reference table ran on %v, want a replica of each cluster", nodes)
	}
}

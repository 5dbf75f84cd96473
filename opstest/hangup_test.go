package opstest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/sqlrouter/sqlrouter/localdeploy"
)

// A client killed while its statement waits for a lock (pgbench killed
// in the middle of a run, say) leaves nothing waiting on the shard: the
// router sees the hang-up, cancels the statement and closes the client's
// backend sessions, while the lock holder still holds the lock.
func TestKilledClientLeavesNoBackendWaiting(t *testing.T) {
	ctx := ctxT(t)
	k := keyOn(t, "s0")
	c := connect(t, nil)
	if _, err := c.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'locked')", k); err != nil {
		t.Fatal(err)
	}
	dsn := stack.Deployment.Cluster("s0").Primary.DSN("app")
	primary := direct(t, dsn) // outside a transaction: pg_stat_activity is read afresh
	// The lock holder: a transaction on the shard that keeps the row.
	holder, err := direct(t, dsn).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx)
	if _, err := holder.Exec(ctx, "UPDATE customers SET name = 'holder' WHERE id = $1", k); err != nil {
		t.Fatal(err)
	}

	bin, err := localdeploy.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	const app = "opstest_killed_client"
	for _, script := range []string{
		// A statement on its own, and one inside a transaction.
		"UPDATE customers SET name = 'waiter' WHERE id = %d",
		"BEGIN; SELECT 1; UPDATE customers SET name = 'waiter' WHERE id = %d",
	} {
		cmd := exec.Command(bin.Path("psql"), "-X", "-c", fmt.Sprintf(script, k), stack.RouterDSN())
		cmd.Env = append(os.Environ(), "PGAPPNAME="+app)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		backends := func(cond string) int {
			var n int
			if err := primary.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"+cond, app).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		waitFor(t, "the client's statement to wait for the lock", func() bool { return backends(" AND wait_event_type = 'Lock'") == 1 })
		cmd.Process.Kill()
		cmd.Wait()
		// Its backend session ends, or goes back to the pool idle (no
		// transaction, no statement): nothing waits on the shard for it.
		waitFor(t, "the killed client's backend session to end", func() bool { return backends(" AND state <> 'idle'") == 0 })
	}
	// The holder was not disturbed.
	if _, err := holder.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("the lock holder: %v", err)
	}
	if v, _ := value(scrape(t, stack.Router), "sqlrouter_statements_abandoned_total"); v < 2 {
		t.Errorf("statements_abandoned_total = %v, want at least 2", v)
	}
}

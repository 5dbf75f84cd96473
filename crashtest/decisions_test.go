package crashtest

import (
	"context"
	"testing"
	"time"

	"github.com/sqlrouter/sqlrouter/txn"
)

// decisionLog reads the decisions the test routers record (they use the
// default prefix).
func decisionLog() *txn.EtcdLog { return txn.NewEtcdLog(etcdCli, "crashtest", "") }

// waitNoCommitDecisions polls etcd until no commit decision is left:
// every transaction that committed was finished on every cluster and its
// decision forgotten. Abort decisions are kept on purpose for a while.
func waitNoCommitDecisions(ctx context.Context, t testing.TB, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		all, err := decisionLog().List(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		var commits []string
		for _, d := range all {
			if d.Decision == txn.Commit {
				commits = append(commits, d.Txn)
			}
		}
		if len(commits) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("commit decisions left %s after the crashes: %v", limit, commits)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

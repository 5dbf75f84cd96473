package difftest

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/sqlrouter/sqlrouter/planner"
)

// The corpus exercises every way a read runs: on one cluster, merged in
// the router, finished at the coordinator.
func TestCorpusCoversEveryPlan(t *testing.T) {
	snap := stack.Router.Snapshot()
	p := planner.New(planner.Options{})
	counts := map[string]int{}
	for _, q := range loadQueries(t, "queries.sql") {
		stmts, err := p.PlanQuery(planner.Context{Map: snap.Map, Revision: snap.Revision}, q.sql)
		if err != nil {
			counts["error"]++
			continue
		}
		kind := strings.TrimPrefix(fmt.Sprintf("%T", stmts[0].Plan), "*planner.")
		counts[kind]++
	}
	var parts []string
	for k, v := range counts {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	t.Logf("plans: %s", strings.Join(parts, " "))
	for _, kind := range []string{"Route", "Scatter", "Finish"} {
		if counts[kind] < 10 {
			t.Errorf("only %d queries run as %s", counts[kind], kind)
		}
	}
}

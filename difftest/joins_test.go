package difftest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqlrouter/sqlrouter/planner"
)

// The join corpus gives one PostgreSQL's answers under every join strategy:
// the estimates' choice, then each strategy forced (where the statement
// allows it). EXPLAIN through the router tells which strategy ran, so the
// test also proves that each strategy really ran on many queries.
func TestJoins(t *testing.T) {
	router, ref := setup(t)
	queries := loadQueries(t, "joins.sql")
	if len(queries) < 120 {
		t.Errorf("the join corpus has %d queries, want at least 120", len(queries))
	}
	ctx := context.Background()
	snap := stack.Router.Snapshot()
	p := planner.New(planner.Options{})
	want := make([]answer, len(queries))
	join := make([]bool, len(queries))
	for i, q := range queries {
		want[i] = ask(ctx, ref, q.sql)
		stmts, err := p.PlanQuery(planner.Context{Map: snap.Map, Revision: snap.Revision}, q.sql)
		if err == nil && len(stmts) == 1 {
			_, join[i] = stmts[0].Plan.(*planner.Join)
		}
	}
	planned := 0
	for _, j := range join {
		if j {
			planned++
		}
	}
	if planned < 80 {
		t.Errorf("%d queries of the join corpus plan a join across distributions, want at least 80", planned)
	}
	ran := map[string]int{}
	for _, strategy := range []string{"auto", "broadcast", "repartition", "gather"} {
		t.Run(strategy, func(t *testing.T) {
			if _, err := router.Exec(ctx, "SET sqlrouter.join_strategy = "+strategy).ReadAll(); err != nil {
				t.Fatal(err)
			}
			failures, n := 0, 0
			for i, q := range queries {
				if strategy != "auto" && !join[i] {
					continue // planned without a join strategy: the same every time
				}
				n++
				got := ask(ctx, router, q.sql)
				if msg := compare(q, got, want[i]); msg != "" {
					failures++
					t.Errorf("joins.sql:%d: %s\n%s", q.line, msg, q.sql)
				}
				if join[i] && q.errCode == "" && i%2 == 0 {
					// Every other one, to keep the test short.
					ran[strategy+"/"+explainedStrategy(t, router, q.sql)]++
				}
			}
			t.Logf("%d queries, %d differ", n, failures)
		})
	}
	if _, err := router.Exec(ctx, "RESET sqlrouter.join_strategy").ReadAll(); err != nil {
		t.Fatal(err)
	}
	t.Logf("strategies that ran: %v", ran)
	for key, min := range map[string]int{"auto/broadcast": 15, "broadcast/broadcast": 30, "repartition/repartition": 15, "gather/gather": 30} {
		if ran[key] < min {
			t.Errorf("%s ran %d times, want at least %d", key, ran[key], min)
		}
	}
}

// explainedStrategy asks the router's EXPLAIN which join strategy a query
// takes.
func explainedStrategy(t *testing.T, c *pgconn.PgConn, sql string) string {
	t.Helper()
	res, err := c.Exec(context.Background(), "EXPLAIN "+sql).ReadAll()
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", sql, err)
	}
	strategy := ""
	for _, row := range res[len(res)-1].Rows {
		if line := string(row[0]); strings.HasPrefix(line, "Join strategy: ") {
			strategy = strings.Fields(strings.TrimPrefix(line, "Join strategy: "))[0]
		}
	}
	if strategy == "" {
		t.Fatalf("EXPLAIN %s shows no join strategy", sql)
	}
	return fmt.Sprint(strategy)
}

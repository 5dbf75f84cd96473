package joinbench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// session is a router connection with a forced join strategy.
type session struct {
	tb testing.TB
	c  *pgconn.PgConn
}

func connect(tb testing.TB, strategy string) *session {
	tb.Helper()
	load(tb)
	ctx := context.Background()
	c, err := pgconn.Connect(ctx, stack.RouterDSN())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close(context.Background()) })
	s := &session{tb: tb, c: c}
	s.exec("SET sqlrouter.join_strategy = " + strategy)
	return s
}

func (s *session) exec(sql string) []*pgconn.Result {
	s.tb.Helper()
	res, err := s.c.Exec(context.Background(), sql).ReadAll()
	if err != nil {
		s.tb.Fatalf("%s: %v", sql, err)
	}
	return res
}

// value runs a query of one row and one column.
func (s *session) value(sql string) string {
	s.tb.Helper()
	res := s.exec(sql)
	rows := res[len(res)-1].Rows
	if len(rows) != 1 || len(rows[0]) != 1 {
		s.tb.Fatalf("%s: %d rows", sql, len(rows))
	}
	return string(rows[0][0])
}

// shipped runs a statement and returns the rows it sent from one node to
// another, as the session and the router's counter both tell.
func (s *session) shipped(sql string) (rows int, shipped int64) {
	s.tb.Helper()
	before := stack.Router.RowsShipped()
	res := s.exec(sql)
	after := stack.Router.RowsShipped()
	last, err := strconv.ParseInt(s.value("SHOW sqlrouter.last_rows_shipped"), 10, 64)
	if err != nil {
		s.tb.Fatal(err)
	}
	if last != after-before {
		s.tb.Fatalf("%s: SHOW sqlrouter.last_rows_shipped says %d, the router counted %d", sql, last, after-before)
	}
	return len(res[len(res)-1].Rows), last
}

// strategy is the join strategy EXPLAIN says a statement takes.
func (s *session) strategy(sql string) string {
	s.tb.Helper()
	for _, row := range s.exec("EXPLAIN " + sql)[0].Rows {
		if line := string(row[0]); strings.HasPrefix(line, "Join strategy: ") {
			return strings.Fields(strings.TrimPrefix(line, "Join strategy: "))[0]
		}
	}
	return "none"
}

const (
	// referenceJoin runs on each cluster with its copy of countries.
	referenceJoin = "SELECT c.id, k.name FROM customers c JOIN countries k ON k.code = c.country WHERE c.tier = 1"
	// broadcastJoin ships the few wire payments over 290 to the clusters
	// of orders.
	broadcastJoin = "SELECT o.id, o.amount, p.amount FROM orders o JOIN payments p ON p.order_id = o.id WHERE p.method = 'wire' AND p.amount > 290"
	smallSide     = "SELECT count(*) FROM payments p WHERE p.method = 'wire' AND p.amount > 290"
)

// A join with a reference table moves no row between nodes.
func TestReferenceJoinMovesNoRows(t *testing.T) {
	s := connect(t, "auto")
	rows, shipped := s.shipped(referenceJoin)
	if rows != customers/4 || shipped != 0 {
		t.Fatalf("%d rows, %d shipped; want %d rows, none shipped", rows, shipped, customers/4)
	}
}

// A broadcast join moves the filtered rows of the small side, once to each
// cluster of the other side, and nothing else.
func TestBroadcastMovesOnlyFilteredRows(t *testing.T) {
	s := connect(t, "auto")
	if got := s.strategy(broadcastJoin); got != "broadcast" {
		t.Fatalf("the estimates chose %s, want broadcast", got)
	}
	small, err := strconv.Atoi(s.value(smallSide))
	if err != nil || small == 0 || small > customers {
		t.Fatalf("the small side has %d rows (%v)", small, err)
	}
	rows, shipped := s.shipped(broadcastJoin)
	if rows != small || shipped != int64(small*3) {
		t.Fatalf("%d rows, %d shipped; want %d rows, %d shipped (%d filtered payments to 3 clusters)", rows, shipped, small, small*3, small)
	}
	// The same join gathered moves both sides to the coordinator.
	g := connect(t, "gather")
	if _, shipped := g.shipped(broadcastJoin); shipped <= int64(small*3) {
		t.Fatalf("gathering shipped %d rows, not more than broadcasting", shipped)
	}
}

// strategyShapes are the joins the strategies are compared on: a filtered
// small side, and two whole sides.
var strategyShapes = []struct{ name, sql string }{
	{"small side", "SELECT o.status, count(*), sum(p.amount) FROM orders o JOIN payments p ON p.order_id = o.id WHERE p.method = 'wire' AND p.amount > 250 GROUP BY o.status"},
	{"whole sides", "SELECT o.status, count(*), sum(p.amount) FROM orders o JOIN payments p ON p.order_id = o.id GROUP BY o.status"},
}

// BenchmarkJoinStrategies runs each shape under each strategy (auto: the
// estimates' choice) and reports rows shipped per statement; every strategy
// must give the same answer. bench/README.md has the measured ratios.
func BenchmarkJoinStrategies(b *testing.B) {
	for _, shape := range strategyShapes {
		var want string
		for _, strategy := range []string{"auto", "broadcast", "repartition", "gather"} {
			b.Run(fmt.Sprintf("%s/%s", strings.ReplaceAll(shape.name, " ", "_"), strategy), func(b *testing.B) {
				s := connect(b, strategy)
				if strategy != "auto" && s.strategy(shape.sql) != strategy {
					b.Fatalf("%s did not run as %s", shape.name, strategy)
				}
				var shipped int64
				b.ResetTimer()
				for b.Loop() {
					_, shipped = s.shipped(shape.sql)
				}
				b.StopTimer()
				b.ReportMetric(float64(shipped), "rows-shipped/op")
				got := answer(s, shape.sql)
				if want == "" {
					want = got
				} else if got != want {
					b.Fatalf("%s under %s gave\n%s\nwant\n%s", shape.name, strategy, got, want)
				}
			})
		}
	}
}

// BenchmarkReferenceJoin and BenchmarkBroadcastJoin time the two joins the
// tests above count the shipped rows of.
func BenchmarkReferenceJoin(b *testing.B) {
	s := connect(b, "auto")
	for b.Loop() {
		if _, shipped := s.shipped(referenceJoin); shipped != 0 {
			b.Fatalf("a reference join shipped %d rows", shipped)
		}
	}
}

func BenchmarkBroadcastJoin(b *testing.B) {
	s := connect(b, "auto")
	small, _ := strconv.Atoi(s.value(smallSide))
	for b.Loop() {
		if _, shipped := s.shipped(broadcastJoin); shipped != int64(small*3) {
			b.Fatalf("a broadcast shipped %d rows, want %d", shipped, small*3)
		}
	}
}

// answer renders a statement's rows, sorted.
func answer(s *session, sql string) string {
	res := s.exec(sql)
	var lines []string
	for _, row := range res[len(res)-1].Rows {
		var vals []string
		for _, v := range row {
			vals = append(vals, string(v))
		}
		lines = append(lines, strings.Join(vals, "|"))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

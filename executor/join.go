package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
)

// The cost model that chooses a join strategy counts rows handled, from
// the clusters' estimates of each side's filtered rows; the weights are
// the time per row each step took in BenchmarkJoinStrategies
// (bench/README.md#joins), in units of one row read by the router:
//
//   - broadcast: each shipped row is read once and sent to every cluster
//     of the kept tables (as an array element the cluster unnests), which
//     join their own rows in parallel;
//   - repartition: both sides are read, dealt by value and each row sent
//     once; the clusters unnest and join their shares in parallel;
//   - gather: both sides are read and copied (binary COPY) into the
//     coordinator's temporary tables, and one server joins them all.
//
// The shipping strategies hold the shipped rows in the router's memory, so
// they are only chosen below a bound, and a side that turns out larger
// than three times its bound makes the statement fall back to gathering.
const (
	maxBroadcastRows   = 20000
	maxRepartitionRows = 200000
	shipOverrun        = 3
	costRead           = 1.0
	costSend           = 1.0
	costDeal           = 0.8
	costLoad           = 0.3
	costJoin           = 0.1
)

// Join strategies a session may force (sqlrouter.join_strategy); auto
// lets the estimates choose.
var joinStrategies = []string{"auto", "broadcast", "repartition", "gather"}

func (s *Session) setJoinStrategy(name, value string, local, reset bool) error {
	v := strings.ToLower(strings.TrimSpace(value))
	if reset {
		v = ""
	} else if !slices.Contains(joinStrategies, v) {
		return pgerror.New(pgerror.InvalidParameterValue, "invalid value for parameter \"%s\": \"%s\"", name, value).
			WithHint("Available values: %s.", strings.Join(joinStrategies, ", "))
	}
	if local {
		s.reads.localJoin = v
	} else {
		s.reads.join = v
	}
	return nil
}

// joinStrategy is the strategy the session forces, "auto" for none.
func (s *Session) joinStrategy() string {
	switch {
	case s.reads.localJoin != "":
		return s.reads.localJoin
	case s.reads.join != "":
		return s.reads.join
	}
	return "auto"
}

// joinChoice is the strategy chosen for one execution of a Join.
type joinChoice struct {
	// broadcast or repartition is the chosen shipping strategy; both nil
	// means gather.
	broadcast   *planner.JoinBroadcast
	repartition *planner.JoinRepartition
	// rows are the side estimates; note explains the choice for EXPLAIN.
	rows []float64
	note string
}

func (ch *joinChoice) name() string {
	switch {
	case ch.broadcast != nil:
		return "broadcast"
	case ch.repartition != nil:
		return "repartition"
	}
	return "gather"
}

// chooseJoin estimates the sides and prices every strategy.
func (s *Session) chooseJoin(ctx context.Context, j *planner.Join, params planner.Params, oids []uint32, hint string) (*joinChoice, error) {
	ch := &joinChoice{rows: make([]float64, len(j.Sides))}
	for i, g := range j.Sides {
		n, err := s.estimateRows(ctx, g, params, oids, hint)
		if err != nil {
			if errors.Is(err, errSkipped) {
				return nil, err
			}
			// The gather reports whatever is wrong with the statement.
			ch.note = "no estimates: " + err.Error()
			return ch, nil
		}
		ch.rows[i] = n
	}
	total := 0.0
	for _, n := range ch.rows {
		total += n
	}
	best := total * (costRead + costLoad + costJoin)
	costs := []string{fmt.Sprintf("gather %.0f", best)}
	for _, bc := range j.Broadcasts {
		t := innerTarget(bc.Inner)
		clusters, err := t.Resolve(params)
		if err != nil || len(clusters) == 0 {
			continue
		}
		shipped := 0.0
		for _, i := range bc.Ship {
			shipped += ch.rows[i]
		}
		n := float64(len(clusters))
		cost := shipped*(costRead+costSend*n) + (total-shipped)*costJoin/n
		costs = append(costs, fmt.Sprintf("broadcast %s %.0f", sides(bc.Ship), cost))
		if shipped <= maxBroadcastRows && cost < best {
			best, ch.broadcast = cost, bc
		}
	}
	if r := j.Repartition; r != nil {
		n := ch.rows[r.Sides[0]] + ch.rows[r.Sides[1]]
		cost := n*(costRead+costSend+costDeal) + n*costJoin/float64(len(r.Clusters))
		costs = append(costs, fmt.Sprintf("repartition %.0f", cost))
		if n <= maxRepartitionRows && cost < best {
			best, ch.broadcast, ch.repartition = cost, nil, r
		}
	}
	var est []string
	for i, n := range ch.rows {
		est = append(est, fmt.Sprintf("side %d: %.0f", i+1, n))
	}
	ch.note = fmt.Sprintf("estimated rows %s; cost %s", strings.Join(est, ", "), strings.Join(costs, ", "))
	ch.force(j, s.joinStrategy())
	return ch, nil
}

func sides(ship []int) string {
	var parts []string
	for _, i := range ship {
		parts = append(parts, fmt.Sprint(i+1))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// innerTarget is the clusters a shipping strategy's worker runs on.
func innerTarget(p planner.Plan) planner.Target {
	switch p := p.(type) {
	case *planner.Scatter:
		return p.Target
	case *planner.Combine:
		return p.Target
	}
	return planner.Target{}
}

// runJoin runs a Join by the strategy its estimates choose.
func (s *Session) runJoin(ctx context.Context, j *planner.Join, bound *boundParams, describe bool, hint string) error {
	if err := s.drain(ctx); err != nil {
		return err
	}
	if s.pipe.failed {
		return nil
	}
	params, oids := bound.values()
	ch, err := s.chooseJoin(ctx, j, params, oids, hint)
	if err != nil {
		return s.stmtError(ctx, err)
	}
	if ch.broadcast != nil || ch.repartition != nil {
		inner, shipped, err := s.ship(ctx, j, ch, bound, hint)
		switch {
		case errors.Is(err, errCannotShip):
			// Gather instead.
		case err != nil:
			return s.stmtError(ctx, err)
		default:
			return s.runShipped(ctx, inner, shipped, describe, hint)
		}
	}
	return s.runFinish(ctx, j.Gather, bound, describe, hint)
}

// runShipped runs a shipping strategy's worker plan.
func (s *Session) runShipped(ctx context.Context, inner planner.Plan, bound *boundParams, describe bool, hint string) error {
	switch p := inner.(type) {
	case *planner.Scatter:
		return s.runScatter(ctx, p, bound, describe, hint)
	case *planner.Combine:
		return s.runCombine(ctx, p, bound, describe, hint)
	}
	return s.stmtError(ctx, fmt.Errorf("no executor for join plan %T", inner))
}

// errCannotShip makes a join gather instead: a side is larger than its
// estimate, or its rows cannot travel as arrays, or its join columns
// cannot be dealt by value.
var errCannotShip = errors.New("the join sides cannot be shipped")

// ship reads the sides a shipping strategy moves and returns the worker
// plan that reads them from parameters, with those parameters.
func (s *Session) ship(ctx context.Context, j *planner.Join, ch *joinChoice, bound *boundParams, hint string) (planner.Plan, *boundParams, error) {
	params, oids := bound.values()
	shipped := &boundParams{}
	if bound != nil {
		*shipped = *bound
	}
	sh := &shipment{s: s}
	shipped.ship = sh
	read := func(i, limit int) (*sideRows, error) {
		side, err := s.readSide(ctx, j.Sides[i], params, oids, hint, limit)
		if errors.Is(err, errTooManyRows) {
			return nil, errCannotShip
		}
		if err != nil {
			return nil, err
		}
		if !side.shippable() {
			return nil, errCannotShip
		}
		return side, nil
	}
	var inner planner.Plan
	var names []string
	var rows []*sideRows
	switch {
	case ch.broadcast != nil:
		inner = ch.broadcast.Inner
		for _, i := range ch.broadcast.Ship {
			side, err := read(i, maxBroadcastRows*shipOverrun)
			if err != nil {
				return nil, nil, err
			}
			all := make([]int, len(side.rows))
			for r := range all {
				all[r] = r
			}
			sh.all = append(sh.all, side.arrays(all)...)
			sh.allRows += int64(len(side.rows))
			names = append(names, j.Sides[i].Name)
			rows = append(rows, side)
		}
	default:
		r := ch.repartition
		inner = r.Inner
		var cols [2]int
		for k, i := range r.Sides {
			side, err := read(i, maxRepartitionRows*shipOverrun)
			if err != nil {
				return nil, nil, err
			}
			if cols[k] = side.column(r.Columns[k]); cols[k] < 0 {
				return nil, nil, errCannotShip
			}
			names = append(names, j.Sides[i].Name)
			rows = append(rows, side)
		}
		if !dealable(rows[0].fields[cols[0]].DataTypeOID, rows[1].fields[cols[1]].DataTypeOID) {
			return nil, nil, errCannotShip
		}
		sh.byCluster = map[string][][]byte{}
		sh.rows = map[string]int64{}
		n := len(r.Clusters)
		for k, side := range rows {
			shares := make([][]int, n)
			for ri, row := range side.rows {
				c := share(row[cols[k]], n)
				shares[c] = append(shares[c], ri)
			}
			for c, cl := range r.Clusters {
				sh.byCluster[cl] = append(sh.byCluster[cl], side.arrays(shares[c])...)
				sh.rows[cl] += int64(len(shares[c]))
			}
		}
	}
	switch p := inner.(type) {
	case *planner.Scatter:
		return &planner.Scatter{SQL: p.SQL, Worker: shippedWorker(p.Worker, len(p.Params), names, rows), Params: p.Params, Target: p.Target,
			Sort: p.Sort, Hidden: p.Hidden, Limit: p.Limit, Offset: p.Offset, ReadOnly: p.ReadOnly, Fallback: p.Fallback}, shipped, nil
	case *planner.Combine:
		return &planner.Combine{SQL: p.SQL, Worker: shippedWorker(p.Worker, len(p.Params), names, rows), Params: p.Params, Target: p.Target,
			Final: p.Final, FinalParams: p.FinalParams, Finals: p.Finals, ReadOnly: p.ReadOnly}, shipped, nil
	}
	return nil, nil, errCannotShip
}

// finishOf returns the Finish that describes a statement finished at the
// coordinator, or a join that may be (every strategy gives its rows the
// same shape).
func finishOf(p planner.Plan) (*planner.Finish, bool) {
	switch p := p.(type) {
	case *planner.Finish:
		return p, true
	case *planner.Join:
		return p.Gather, true
	}
	return nil, false
}

// shippedSides lists the sides a shipping strategy reads.
func shippedSides(ch *joinChoice) []int {
	if ch.broadcast != nil {
		return ch.broadcast.Ship
	}
	if ch.repartition != nil {
		return ch.repartition.Sides[:]
	}
	return nil
}

// force applies a strategy the session asks for, when the statement allows
// it (the first broadcast the planner found, for broadcast).
func (ch *joinChoice) force(j *planner.Join, strategy string) {
	switch {
	case strategy == "gather":
		ch.broadcast, ch.repartition = nil, nil
	case strategy == "broadcast" && len(j.Broadcasts) > 0:
		ch.broadcast, ch.repartition = j.Broadcasts[0], nil
	case strategy == "repartition" && j.Repartition != nil:
		ch.broadcast, ch.repartition = nil, j.Repartition
	default:
		return
	}
	ch.note += "; forced by sqlrouter.join_strategy"
}

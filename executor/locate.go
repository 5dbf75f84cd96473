package executor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
)

// runLocate runs a statement about indexes or sequences on the clusters
// that have every one of them, found by asking each cluster.
func (s *Session) runLocate(ctx context.Context, l *planner.Locate, st planner.Statement, bound *boundParams) error {
	if ok, err := s.settle(ctx, true); !ok {
		return err
	}
	var probe strings.Builder
	probe.WriteString("SELECT ")
	values := make([][]byte, len(l.Objects))
	for i, o := range l.Objects {
		if i > 0 {
			probe.WriteString(" + ")
		}
		fmt.Fprintf(&probe, "(to_regclass($%d) IS NOT NULL)::int", i+1)
		values[i] = []byte(o)
	}
	var all []string
	some := false
	clusters := slices.Sorted(slices.Values(s.snap.Map.ClusterNames))
	for _, cl := range clusters {
		c, err := s.routeConn(ctx, cl)
		if err == nil {
			err = s.quiet(ctx)
		}
		if err != nil {
			return s.stmtError(ctx, err)
		}
		rows, err := c.queryParams(ctx, probe.String(), nil, values, nil)
		if err != nil {
			return s.stmtError(ctx, err)
		}
		switch rows[0][0] {
		case fmt.Sprint(len(l.Objects)):
			all = append(all, cl)
		case "0":
		default:
			some = true
		}
	}
	if some {
		return s.stmtError(ctx, pgerror.Unsupported("a statement naming %ss that are not all on the same clusters is not supported", l.What).
			WithHint("Run one statement per %s.", l.What))
	}
	if len(all) == 0 {
		// Nowhere: the default cluster answers as PostgreSQL would.
		all = []string{s.snap.Map.DefaultClusterName()}
	}
	b := &planner.Broadcast{SQL: l.SQL, Clusters: all, Transactional: l.Transactional, Command: l.Command, Sequences: l.Sequences}
	return s.runBroadcast(ctx, b, st, bound)
}

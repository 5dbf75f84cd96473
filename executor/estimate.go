package executor

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/planner"
)

// estimateTTL is how long a cluster's row estimate of a read is reused:
// table statistics change slowly, and a stale estimate only costs speed.
const estimateTTL = 30 * time.Second

// maxEstimates bounds the cache; it is emptied when full.
const maxEstimates = 10000

// Estimates caches the clusters' row estimates of the reads a join
// strategy may move (each cluster's EXPLAIN of the read). Safe for
// concurrent use; the zero value is ready.
type Estimates struct {
	mu sync.Mutex
	m  map[string]cachedEstimate
}

type cachedEstimate struct {
	rows float64
	at   time.Time
}

func (e *Estimates) get(key string) (float64, bool) {
	if e == nil {
		return 0, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.m[key]
	if !ok || time.Since(c.at) > estimateTTL {
		return 0, false
	}
	return c.rows, true
}

func (e *Estimates) put(key string, rows float64) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil || len(e.m) >= maxEstimates {
		e.m = map[string]cachedEstimate{}
	}
	e.m[key] = cachedEstimate{rows: rows, at: time.Now()}
}

// estimateRows returns the number of rows a side's read returns, summed
// over its clusters, as their planners estimate it.
func (s *Session) estimateRows(ctx context.Context, g *planner.Gather, params planner.Params, oids []uint32, hint string) (float64, error) {
	clusters, err := g.Target.Resolve(params)
	if err != nil {
		return 0, err
	}
	values, formats, gOIDs := subsetParams(params, oids, g.Params)
	var b strings.Builder
	b.WriteString(g.SQL)
	for _, v := range values {
		b.WriteByte(0)
		b.Write(v)
	}
	suffix := b.String()
	total := 0.0
	var missing []string
	for _, cl := range clusters {
		if rows, ok := s.cfg.Estimates.get(cl + "\x00" + suffix); ok {
			total += rows
		} else {
			missing = append(missing, cl)
		}
	}
	if len(missing) == 0 {
		return total, nil
	}
	conns, err := s.prepareReaders(ctx, missing, reading{readOnly: true, hint: hint})
	if err != nil {
		return 0, err
	}
	for _, c := range conns {
		rows, err := c.queryParams(ctx, "EXPLAIN (FORMAT JSON) "+g.SQL, gOIDs, values, formats)
		if err != nil {
			return 0, err
		}
		n, err := planRows(rows)
		if err != nil {
			return 0, err
		}
		s.cfg.Estimates.put(c.cluster+"\x00"+suffix, n)
		total += n
	}
	return total, nil
}

// planRows reads the top node's row estimate from EXPLAIN (FORMAT JSON).
func planRows(rows [][]string) (float64, error) {
	if len(rows) != 1 || len(rows[0]) != 1 {
		return 0, pgerror.New(pgerror.InternalError, "EXPLAIN returned %d rows", len(rows))
	}
	var doc []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(rows[0][0]), &doc); err != nil || len(doc) != 1 {
		return 0, pgerror.New(pgerror.InternalError, "reading EXPLAIN output: %v", err)
	}
	return doc[0].Plan.Rows, nil
}

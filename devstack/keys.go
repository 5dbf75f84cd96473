package devstack

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sqlrouter/sqlrouter/shardmap"
)

// keySeq numbers the keys KeyOn hands out, from a start that differs
// between runs (tests reuse one deployment's tables).
var keySeq atomic.Int64

func init() { keySeq.Store(time.Now().UnixNano() % 1_000_000_000 * 1000) }

// KeyOn returns a key never handed out before of the example map's
// by_customer distribution (customers.id, orders.customer_id) that the
// router's current shard map places on cluster.
func (s *Stack) KeyOn(cluster string) (int64, error) {
	d := s.Router.Snapshot().Map.Distributions["by_customer"]
	if d == nil {
		return 0, fmt.Errorf("the shard map has no distribution by_customer")
	}
	for range 10000 {
		k := keySeq.Add(1)
		if c, err := d.ClusterFor(shardmap.IntKey(k)); err == nil && c == cluster {
			return k, nil
		}
	}
	return 0, fmt.Errorf("no key of by_customer on cluster %s", cluster)
}

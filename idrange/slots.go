package idrange

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultPrefix is where Slots keeps its keys unless told otherwise.
const DefaultPrefix = "/sqlrouter/sequence_slots/"

// Slots assigns clusters their slots in etcd: <prefix>cluster/<name> holds the
// cluster's slot, <prefix>next the first slot not given yet. A slot is
// given once, by an etcd transaction, so that every router agrees, and
// kept when the cluster leaves the map (a cluster added later gets a new
// one: ranges stay disjoint). Slots is safe for concurrent use.
type Slots struct {
	cli    *clientv3.Client
	prefix string
	mu     sync.Mutex
	known  map[string]int
}

// NewSlots makes Slots under prefix (DefaultPrefix when "").
func NewSlots(cli *clientv3.Client, prefix string) *Slots {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Slots{cli: cli, prefix: prefix, known: map[string]int{}}
}

// nextKey holds the next free slot (cluster keys live under cluster/).
const nextKey = "next"

// Slot returns a cluster's slot, assigning the next free one the first
// time any router asks.
func (s *Slots) Slot(ctx context.Context, cluster string) (int, error) {
	s.mu.Lock()
	slot, ok := s.known[cluster]
	s.mu.Unlock()
	if ok {
		return slot, nil
	}
	key, counter := s.prefix+"cluster/"+cluster, s.prefix+nextKey
	for {
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), ">", 0)).
			Then(clientv3.OpGet(key)).
			Else(clientv3.OpGet(counter)).
			Commit()
		if err != nil {
			return 0, fmt.Errorf("idrange: slot of cluster %s: %w", cluster, err)
		}
		if resp.Succeeded {
			return s.remember(cluster, resp.Responses[0].GetResponseRange().GetKvs()[0].Value)
		}
		next, rev := 0, int64(0)
		if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
			if next, err = strconv.Atoi(string(kvs[0].Value)); err != nil {
				return 0, fmt.Errorf("idrange: %s holds %q, not a slot number", counter, kvs[0].Value)
			}
			rev = kvs[0].ModRevision
		}
		put, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(counter), "=", rev), clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(counter, strconv.Itoa(next+1)), clientv3.OpPut(key, strconv.Itoa(next))).
			Commit()
		if err != nil {
			return 0, fmt.Errorf("idrange: slot of cluster %s: %w", cluster, err)
		}
		if put.Succeeded {
			return s.remember(cluster, []byte(strconv.Itoa(next)))
		}
		// Another router took that slot or gave this cluster one: look
		// again.
	}
}

func (s *Slots) remember(cluster string, v []byte) (int, error) {
	slot, err := strconv.Atoi(string(v))
	if err != nil || slot < 0 {
		return 0, fmt.Errorf("idrange: the slot of cluster %s is %q, not a slot number", cluster, v)
	}
	s.mu.Lock()
	s.known[cluster] = slot
	s.mu.Unlock()
	return slot, nil
}

package txn

import (
	"context"
	"sync"
	"sync/atomic"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// recordBatch bounds the decisions written by one etcd transaction (etcd
// refuses more than 128 comparisons or operations in one by default).
const recordBatch = 64

// recorder writes commit decisions with group commit: the decisions that
// arrive while one etcd transaction is in flight are written together by
// the next, each key still written only if it has no decision yet. Under
// many concurrent distributed commits this turns one etcd round trip (and
// one raft entry) per commit into one per batch.
type recorder struct {
	cli *clientv3.Client
	// single writes one decision unless its key has one (EtcdLog.recordOne).
	single func(ctx context.Context, key, val string, d Decision) error

	mu      sync.Mutex
	pending []*recordReq
	running bool
	// txns counts the etcd transactions written (tests).
	txns atomic.Int64
}

// recordReq is one decision waiting to be written.
type recordReq struct {
	key, val string
	d        Decision
	done     chan error // buffered: the writer never blocks on it
}

// record writes the decision, batched with others, and returns what
// writing it alone would have returned. When ctx ends first the outcome
// is unknown (the write may still happen), which the caller treats as any
// other unknown outcome.
func (r *recorder) record(ctx context.Context, key, val string, d Decision) error {
	req := &recordReq{key: key, val: val, d: d, done: make(chan error, 1)}
	r.mu.Lock()
	r.pending = append(r.pending, req)
	if !r.running {
		r.running = true
		go r.drain()
	}
	r.mu.Unlock()
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain writes the queued decisions, a batch per etcd transaction, until
// none is left.
func (r *recorder) drain() {
	for {
		r.mu.Lock()
		n := min(len(r.pending), recordBatch)
		if n == 0 {
			r.running = false
			r.mu.Unlock()
			return
		}
		batch := make([]*recordReq, n)
		copy(batch, r.pending)
		r.pending = append(r.pending[:0], r.pending[n:]...)
		r.mu.Unlock()
		r.write(batch)
	}
}

// write writes one batch: all of it in one etcd transaction when no key
// has a decision yet, else each decision on its own, so that a conflict
// is reported to its own caller only.
func (r *recorder) write(batch []*recordReq) {
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	if len(batch) > 1 {
		cmps := make([]clientv3.Cmp, len(batch))
		puts := make([]clientv3.Op, len(batch))
		for i, req := range batch {
			cmps[i] = clientv3.Compare(clientv3.CreateRevision(req.key), "=", 0)
			puts[i] = clientv3.OpPut(req.key, req.val)
		}
		r.txns.Add(1)
		resp, err := r.cli.Txn(ctx).If(cmps...).Then(puts...).Commit()
		if err == nil && resp.Succeeded {
			for _, req := range batch {
				req.done <- nil
			}
			return
		}
		// Some key has a decision already, or the outcome is unknown:
		// writing each on its own below settles both cases exactly.
	}
	if len(batch) == 1 {
		r.txns.Add(1)
		batch[0].done <- r.single(ctx, batch[0].key, batch[0].val, batch[0].d)
		return
	}
	var wg sync.WaitGroup
	for _, req := range batch {
		r.txns.Add(1)
		wg.Go(func() { req.done <- r.single(ctx, req.key, req.val, req.d) })
	}
	wg.Wait()
}

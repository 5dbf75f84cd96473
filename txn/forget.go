package txn

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// forgetBatch bounds the deletes of one etcd transaction (etcd refuses
// more than 128 operations in one by default).
const forgetBatch = 100

// forgetTimeout bounds one batch of deletes.
const forgetTimeout = 10 * time.Second

// forgetter deletes forgotten decisions in the background, many per etcd
// transaction. A commit is finished once COMMIT PREPARED succeeded
// everywhere; dropping its decision is housekeeping that no client should
// wait for. A delete that fails, or that a crash loses, leaves the
// decision for recovery, which forgets every decision whose participants
// are no longer prepared.
type forgetter struct {
	cli *clientv3.Client

	mu      sync.Mutex
	idle    *sync.Cond // signalled when the queue empties
	pending []string   // keys to delete
	running bool       // a goroutine is draining pending
	failed  error      // the last batch's error, for Flush
}

func newForgetter(cli *clientv3.Client) *forgetter {
	f := &forgetter{cli: cli}
	f.idle = sync.NewCond(&f.mu)
	return f
}

// add queues key for deletion and starts a drain if none runs.
func (f *forgetter) add(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = append(f.pending, key)
	if !f.running {
		f.running = true
		go f.drain()
	}
}

// drain deletes the queued keys, a batch at a time, until none is left.
func (f *forgetter) drain() {
	for {
		f.mu.Lock()
		if len(f.pending) == 0 {
			f.running = false
			f.idle.Broadcast()
			f.mu.Unlock()
			return
		}
		n := min(len(f.pending), forgetBatch)
		batch := make([]clientv3.Op, n)
		for i, key := range f.pending[:n] {
			batch[i] = clientv3.OpDelete(key)
		}
		f.pending = append(f.pending[:0], f.pending[n:]...)
		f.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), forgetTimeout)
		_, err := f.cli.Txn(ctx).Then(batch...).Commit()
		cancel()
		f.mu.Lock()
		f.failed = err
		f.mu.Unlock()
	}
}

// flush waits until every queued key was deleted (or its delete failed:
// the error of the last batch is returned) or ctx ends.
func (f *forgetter) flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		f.mu.Lock()
		f.idle.Broadcast()
		f.mu.Unlock()
	})
	defer stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.running && ctx.Err() == nil {
		f.idle.Wait()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.failed
}

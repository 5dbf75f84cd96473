package shardmap

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNotFound is returned (wrapped) by Get when no shard map is stored
// under the key.
var ErrNotFound = errors.New("no shard map stored")

// Apply validates doc and, only if it is valid, stores it under key. It
// returns the new revision (the map's version). An invalid document is
// refused with an error wrapping *ValidationError and the key is left
// untouched.
func Apply(ctx context.Context, cli *clientv3.Client, key string, doc []byte) (rev int64, err error) {
	if key == "" {
		key = DefaultKey
	}
	if _, err := Parse(doc); err != nil {
		return 0, fmt.Errorf("shardmap: refusing to store an invalid map:\n%w", err)
	}
	resp, err := cli.Put(ctx, key, string(doc))
	if err != nil {
		return 0, fmt.Errorf("shardmap: store %s: %w", key, err)
	}
	return resp.Header.Revision, nil
}

// Get returns the document stored under key and its revision, as stored
// (it may be invalid if someone bypassed Apply). A missing key gives an
// error wrapping ErrNotFound.
func Get(ctx context.Context, cli *clientv3.Client, key string) (doc []byte, rev int64, err error) {
	if key == "" {
		key = DefaultKey
	}
	resp, err := cli.Get(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("shardmap: read %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, fmt.Errorf("shardmap: %s: %w", key, ErrNotFound)
	}
	kv := resp.Kvs[0]
	return kv.Value, kv.ModRevision, nil
}

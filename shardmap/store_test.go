package shardmap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sqlrouter/sqlrouter/localdeploy"
)

// storeDoc is a valid map whose only cluster's name marks its version.
func storeDoc(version string) []byte {
	return []byte(fmt.Sprintf(`version: 1
clusters:
  %s: {primary: "postgres://h/db"}
distributions:
  by_id: {type: hash, key_type: bigint, shards: [%s]}
tables:
  items: {distribution: by_id, key: id}
`, version, version))
}

const invalidDoc = "version: 1\nclusters:\n  s0: {primary: \"postgres://h/db\"}\ntables:\n  items: {distribution: nope, key: id}\n"

// TestStoreScenario walks a router's Store through the life of a shard
// map in a real (embedded) etcd: first load, refused and ignored invalid
// versions, a new version, a deleted key, etcd going away and coming back
// on the same data.
func TestStoreScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	etcd, err := localdeploy.StartEtcd(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { etcd.Stop() }()
	cli, err := clientv3.New(clientv3.Config{Endpoints: etcd.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	const key = "/test/shardmap"
	logs := &logRecorder{}
	store := NewStore(cli, key, slog.New(logs))
	updates, unsubscribe := store.Subscribe()
	defer unsubscribe()
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- store.Run(runCtx) }()
	defer func() {
		stopRun()
		if err := <-runDone; err != nil {
			t.Errorf("Run returned %v after its context ended", err)
		}
	}()

	// Nothing stored yet: no map, and WaitReady waits.
	if store.Current() != nil {
		t.Fatal("Current before any map must be nil")
	}
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	if _, err := store.WaitReady(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady without a map = %v, want deadline exceeded", err)
	}
	cancelShort()

	// Apply a valid map: it becomes current.
	rev1, err := Apply(ctx, cli, key, storeDoc("v1"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := store.WaitReady(ctx)
	if err != nil {
		t.Fatal(err)
	}
	expectSnapshot(t, "after the first apply", snap, rev1, "v1")
	expectSnapshot(t, "the first notification", next(t, updates), rev1, "v1")

	// Apply refuses an invalid map and leaves the key untouched.
	_, err = Apply(ctx, cli, key, []byte(invalidDoc))
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), `tables.items.distribution: unknown distribution "nope"`) {
		t.Fatalf("Apply(invalid) = %v, want the validation error", err)
	}
	if doc, rev, err := Get(ctx, cli, key); err != nil || rev != rev1 || string(doc) != string(storeDoc("v1")) {
		t.Fatalf("after a refused apply the key holds rev %d (%v):\n%s", rev, err, doc)
	}

	// An invalid document put straight into etcd is logged and ignored.
	put, err := cli.Put(ctx, key, invalidDoc)
	if err != nil {
		t.Fatal(err)
	}
	logs.waitFor(t, "ignoring an invalid shard map", put.Header.Revision)
	expectSnapshot(t, "after an invalid put", store.Current(), rev1, "v1")

	// A new valid version swaps in.
	rev2, err := Apply(ctx, cli, key, storeDoc("v2"))
	if err != nil {
		t.Fatal(err)
	}
	expectSnapshot(t, "the second notification", next(t, updates), rev2, "v2")
	expectSnapshot(t, "after the second apply", store.Current(), rev2, "v2")

	// Deleting the key keeps the last good map.
	del, err := cli.Delete(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	logs.waitFor(t, "the shard map key was deleted", del.Header.Revision)
	expectSnapshot(t, "after a delete", store.Current(), rev2, "v2")
	if _, _, err := Get(ctx, cli, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a deleted key = %v, want ErrNotFound", err)
	}

	// etcd goes away: the router keeps answering from its snapshot.
	etcd.Stop()
	expectSnapshot(t, "while etcd is down", store.Current(), rev2, "v2")

	// etcd comes back on the same data (localdeploy picks new ports, so
	// the client is pointed at them): the watch resumes and sees the next
	// version.
	etcd, err = localdeploy.StartEtcd(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	cli.SetEndpoints(etcd.Endpoints()...)
	if doc, _, err := Get(ctx, cli, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the restart the key should still be deleted: %v %s", err, doc)
	}
	rev3, err := Apply(ctx, cli, key, storeDoc("v3"))
	if err != nil {
		t.Fatal(err)
	}
	if rev3 <= rev2 {
		t.Fatalf("revision went back after the restart: %d then %d", rev2, rev3)
	}
	expectSnapshot(t, "the notification after the restart", next(t, updates), rev3, "v3")
	expectSnapshot(t, "after the restart", store.Current(), rev3, "v3")

	t.Logf("store logs:\n%s", logs.String())

	// Unsubscribing closes the channel.
	unsubscribe()
	if _, open := <-updates; open {
		t.Fatal("the channel stays open after unsubscribe")
	}
}

func TestSubscribeCoalesces(t *testing.T) {
	s := NewStore(nil, "", slog.New(slog.DiscardHandler))
	ch, cancel := s.Subscribe()
	defer cancel()
	for rev := int64(1); rev <= 5; rev++ {
		s.swap(&Snapshot{Revision: rev})
	}
	if got := (<-ch).Revision; got != 5 {
		t.Errorf("a slow subscriber sees revision %d, want the latest (5)", got)
	}
	select {
	case snap := <-ch:
		t.Errorf("a stale snapshot (%d) is still queued", snap.Revision)
	default:
	}
	if snap, err := s.WaitReady(context.Background()); err != nil || snap.Revision != 5 {
		t.Errorf("WaitReady = %v, %v", snap, err)
	}
}

func expectSnapshot(t *testing.T, when string, snap *Snapshot, rev int64, cluster string) {
	t.Helper()
	if snap == nil {
		t.Fatalf("%s: no snapshot", when)
	}
	if snap.Revision != rev || snap.Map.ClusterNames[0] != cluster || string(snap.Raw) != string(storeDoc(cluster)) {
		t.Fatalf("%s: snapshot rev %d cluster %v, want rev %d cluster %s", when, snap.Revision, snap.Map.ClusterNames, rev, cluster)
	}
}

// next waits for one notification; the bound only keeps a broken store
// from hanging the test.
func next(t *testing.T, ch <-chan *Snapshot) *Snapshot {
	t.Helper()
	select {
	case snap := <-ch:
		return snap
	case <-time.After(30 * time.Second):
		t.Fatal("no notification")
		return nil
	}
}

// logRecorder is a slog.Handler that keeps records so a test can wait for
// the store to have handled an event.
type logRecorder struct {
	mu      sync.Mutex
	records []string
	attrs   []slog.Attr
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, b.String())
	l.mu.Unlock()
	return nil
}

func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// waitFor polls until a record with msg and revision=rev was logged.
func (l *logRecorder) waitFor(t *testing.T, msg string, rev int64) {
	t.Helper()
	want := fmt.Sprintf("revision=%d", rev)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		l.mu.Lock()
		for _, r := range l.records {
			if strings.Contains(r, msg) && strings.Contains(r, want) {
				l.mu.Unlock()
				return
			}
		}
		l.mu.Unlock()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Fatalf("no log %q with %s; logs:\n%s", msg, want, strings.Join(l.records, "\n"))
}

// String returns the records so far, one per line.
func (l *logRecorder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.records, "\n")
}

// TestStoreWaitsForEtcd: a router started while etcd is down serves
// nothing yet, keeps trying, and loads the map once etcd is reachable.
func TestStoreWaitsForEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	etcd, err := localdeploy.StartEtcd(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: etcd.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		etcd.Stop()
		t.Fatal(err)
	}
	defer cli.Close()
	rev, err := Apply(ctx, cli, "", storeDoc("v1")) // "" is DefaultKey
	etcd.Stop()
	if err != nil {
		t.Fatal(err)
	}

	store := NewStore(cli, "", slog.New(slog.DiscardHandler))
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- store.Run(runCtx) }()
	defer func() {
		stopRun()
		<-runDone
	}()
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	if _, err := store.WaitReady(short); err == nil || store.Current() != nil {
		t.Fatal("a map appeared while etcd was down")
	}
	cancelShort()

	etcd, err = localdeploy.StartEtcd(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Stop()
	cli.SetEndpoints(etcd.Endpoints()...)
	snap, err := store.WaitReady(ctx)
	if err != nil {
		t.Fatal(err)
	}
	expectSnapshot(t, "once etcd is back", snap, rev, "v1")
}

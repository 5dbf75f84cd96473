package idrange

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/sqlrouter/sqlrouter/localdeploy"
)

var dep *localdeploy.Deployment

func TestMain(m *testing.M) {
	os.Exit(localdeploy.RunTests(m, localdeploy.Options{Shards: 1, Replicas: localdeploy.None, Etcd: true}, &dep))
}

func etcdClient(t *testing.T) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: dep.Etcd.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Several routers asking at once for the slots of several clusters agree
// on one slot per cluster, and no two clusters share one; a cluster added
// later gets a new slot, and the slots survive a restart (a new Slots on
// the same keys).
func TestSlotsAreAssignedOnceAndAgreed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prefix := "/test/slots/"
	const routers, clusters = 4, 5
	got := make([][]int, routers)
	var wg sync.WaitGroup
	for r := range routers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := NewSlots(etcdClient(t), prefix)
			for c := range clusters {
				slot, err := s.Slot(ctx, fmt.Sprintf("s%d", (c+r)%clusters))
				if err != nil {
					t.Error(err)
					return
				}
				got[r] = append(got[r], slot)
			}
		}()
	}
	wg.Wait()
	bySlot := map[int]string{}
	for r := range routers {
		for c := range clusters {
			name := fmt.Sprintf("s%d", (c+r)%clusters)
			slot := got[r][c]
			if other, ok := bySlot[slot]; ok && other != name {
				t.Errorf("slot %d given to %s and %s", slot, other, name)
			}
			bySlot[slot] = name
		}
	}
	if len(bySlot) != clusters {
		t.Errorf("%d slots for %d clusters: %v", len(bySlot), clusters, bySlot)
	}
	again := NewSlots(etcdClient(t), prefix)
	for slot, name := range bySlot {
		if s, err := again.Slot(ctx, name); err != nil || s != slot {
			t.Errorf("after a restart %s has slot %d (%v), before %d", name, s, err, slot)
		}
	}
	if s, err := again.Slot(ctx, "s-new"); err != nil || s != clusters {
		t.Errorf("a cluster added later got slot %d (%v), want %d", s, err, clusters)
	}
}

package proxy

import (
	"testing"
	"time"
)

// A request's guard (the max statement time timer and the hang-up watch
// timer) costs each request a begin and an end; requests shorter than the
// watch delay never start the watcher.
func BenchmarkGuardRequest(b *testing.B) {
	s := &Server{cfg: Config{MaxStatementTime: time.Minute}, stats: &ClientStats{}}
	cs := &clientSession{srv: s}
	cs.guard.cs = cs
	b.ReportAllocs()
	for range b.N {
		cs.guard.begin()
		cs.guard.end()
	}
}

package planner

import "github.com/sqlrouter/sqlrouter/shardmap"

// referenceCopies lists the clusters a read of reference tables alone may
// use, the default cluster first: every cluster but those still receiving
// their copies (state: syncing), which get the writes but not the reads.
func referenceCopies(m *shardmap.Map) []string {
	def := m.DefaultClusterName()
	out := []string{def}
	for _, c := range m.ActiveClusters() {
		if c != def {
			out = append(out, c)
		}
	}
	return out
}

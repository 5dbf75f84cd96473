package router

// RowsMoved returns how many rows the router has moved between nodes
// since it started: rows gathered into the coordinator, partial aggregates
// combined there, rows a join shipped to clusters (once per destination).
func (r *Router) RowsMoved() int64 { return r.stats.RowsMoved() }

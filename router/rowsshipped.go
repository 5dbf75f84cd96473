package router

// RowsShipped returns how many rows the router has sent from one node to
// another since it started: rows gathered into the coordinator, partial
// aggregates combined there, rows a join shipped to clusters (once per
// destination). Rows merged for clients do not count.
func (r *Router) RowsShipped() int64 { return r.stats.RowsShipped() }

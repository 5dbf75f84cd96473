// Package idrange keeps generated ids unique across clusters. Every
// cluster gets a slot, a small integer assigned once in etcd and never
// reused; a sequence created through the router on a cluster hands out
// only the values of that cluster's slot (its MINVALUE and MAXVALUE), so
// that serial, identity and nextval() values of different clusters never
// meet. The router applies the ranges (package executor); this package
// computes them and keeps the slots.
package idrange

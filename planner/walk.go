package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

//go:generate go run ./internal/nodegen/cmd -o walk_gen.go

var nodeOneof = (&pg_query.Node{}).ProtoReflect().Descriptor().Oneofs().Get(0)

// unwrap returns the concrete message inside a pg_query.Node, or nil.
func unwrap(n *pg_query.Node) proto.Message {
	if n == nil {
		return nil
	}
	if m, known := unwrapNode(n); known {
		return m
	}
	m := n.ProtoReflect()
	fd := m.WhichOneof(nodeOneof)
	if fd == nil {
		return nil
	}
	return m.Get(fd).Message().Interface()
}

// childVisitor receives the children of a message (walk_gen.go's
// eachChild finds them without protoreflect).
type childVisitor struct {
	// msg gets every child, Node wrappers unwrapped.
	msg func(proto.Message)
	// node, when set, gets the Node wrappers instead of msg.
	node func(*pg_query.Node)
}

func (v *childVisitor) visit(m proto.Message) { v.msg(m) }

func (v *childVisitor) visitNode(n *pg_query.Node) {
	if v.node != nil {
		v.node(n)
		return
	}
	v.msg(unwrap(n))
}

// forEachChild calls fn for every message directly inside msg (Node
// wrappers are unwrapped), in field order.
func forEachChild(msg proto.Message, fn func(proto.Message)) {
	v := childVisitor{msg: fn}
	visitChildren(msg, &v)
}

// visitChildren gives v the message fields of msg that are set, in
// declaration order: by walk_gen.go's switch, or by protoreflect for the
// message types it does not know.
func visitChildren(msg proto.Message, v *childVisitor) {
	if msg == nil || eachChild(msg, v) {
		return
	}
	visitFields(msg, v)
}

// visitFields is visitChildren by protoreflect.
func visitFields(msg proto.Message, v *childVisitor) {
	m := msg.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() || !m.Has(fd) {
			continue
		}
		val := m.Get(fd)
		if !fd.IsList() {
			v.visitAny(val.Message().Interface())
			continue
		}
		for j := range val.List().Len() {
			v.visitAny(val.List().Get(j).Message().Interface())
		}
	}
}

func (v *childVisitor) visitAny(m proto.Message) {
	if n, ok := m.(*pg_query.Node); ok {
		v.visitNode(n)
		return
	}
	v.visit(m)
}

// inspect walks the tree under msg depth first; fn returns false to skip a
// node's children.
func inspect(msg proto.Message, fn func(proto.Message) bool) {
	if msg == nil {
		return
	}
	if !fn(msg) {
		return
	}
	forEachChild(msg, func(c proto.Message) { inspect(c, fn) })
}

// stringValue returns the text of a String node, or "".
func stringValue(n *pg_query.Node) string {
	if s, ok := unwrap(n).(*pg_query.String); ok {
		return s.Sval
	}
	return ""
}

// nameList joins a list of String nodes with dots (a qualified name).
func nameList(nodes []*pg_query.Node) []string {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, stringValue(n))
	}
	return out
}

// walkNodes calls fn for every Node wrapper in the tree under msg, parents
// before children.
func walkNodes(msg proto.Message, fn func(*pg_query.Node)) {
	var v childVisitor
	v.node = func(n *pg_query.Node) {
		fn(n)
		walkNodes(unwrap(n), fn)
	}
	v.msg = func(m proto.Message) { walkNodes(m, fn) }
	visitChildren(msg, &v)
}

package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

var nodeOneof = (&pg_query.Node{}).ProtoReflect().Descriptor().Oneofs().Get(0)

// unwrap returns the concrete message inside a pg_query.Node, or nil.
func unwrap(n *pg_query.Node) proto.Message {
	if n == nil {
		return nil
	}
	m := n.ProtoReflect()
	fd := m.WhichOneof(nodeOneof)
	if fd == nil {
		return nil
	}
	return m.Get(fd).Message().Interface()
}

// forEachChild calls fn for every message directly inside msg (Node
// wrappers are unwrapped), in field order.
func forEachChild(msg proto.Message, fn func(proto.Message)) {
	if msg == nil {
		return
	}
	msg.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := range l.Len() {
				fn(unwrapMessage(l.Get(i).Message().Interface()))
			}
			return true
		}
		fn(unwrapMessage(v.Message().Interface()))
		return true
	})
}

func unwrapMessage(m proto.Message) proto.Message {
	if n, ok := m.(*pg_query.Node); ok {
		return unwrap(n)
	}
	return m
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

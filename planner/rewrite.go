package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// replaceNodes walks the tree under msg and replaces, in place, every Node
// for which fn returns a replacement (whose own subtree is not walked).
// fn may veto the rewrite by setting *ok to false.
func replaceNodes(msg proto.Message, fn func(*pg_query.Node) (*pg_query.Node, bool)) {
	if msg == nil {
		return
	}
	m := msg.ProtoReflect()
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := range l.Len() {
				child := l.Get(i).Message().Interface()
				if n, ok := child.(*pg_query.Node); ok {
					if r, replace := fn(n); replace {
						if r != nil {
							l.Set(i, protoreflect.ValueOfMessage(r.ProtoReflect()))
						}
						continue
					}
					replaceNodes(unwrap(n), fn)
					continue
				}
				replaceNodes(child, fn)
			}
			return true
		}
		child := v.Message().Interface()
		if n, ok := child.(*pg_query.Node); ok {
			if r, replace := fn(n); replace {
				if r != nil {
					m.Set(fd, protoreflect.ValueOfMessage(r.ProtoReflect()))
				}
				return true
			}
			replaceNodes(unwrap(n), fn)
			return true
		}
		replaceNodes(child, fn)
		return true
	})
}

// sameExpr compares two expressions by structure, ignoring positions.
func sameExpr(a, b *pg_query.Node) bool {
	return proto.Equal(stripLocations(a), stripLocations(b))
}

func columnRef(names ...string) *pg_query.Node {
	var fields []*pg_query.Node
	for _, n := range names {
		fields = append(fields, str(n))
	}
	return &pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: &pg_query.ColumnRef{Fields: fields}}}
}

// protoValueOf wraps a message as a protoreflect value.
func protoValueOf(m proto.Message) protoreflect.Value {
	return protoreflect.ValueOfMessage(m.ProtoReflect())
}

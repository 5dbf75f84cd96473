package planner

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/sqlrouter/sqlrouter/pgerror"
	"github.com/sqlrouter/sqlrouter/shardmap"
)

// KeyMove is an UPDATE's assignment of a new value to the distribution
// key. The router runs such an UPDATE only where the new key belongs on
// the cluster the row is on already: it does not move rows between
// clusters (like Citus, it refuses; a row that must move is deleted and
// inserted again by the application, in one transaction).
type KeyMove struct {
	Table *shardmap.Table
	Value KeyExpr
}

// check verifies, for one execution on cluster, that the new key stays
// there.
func (m *KeyMove) check(cluster string, p Params) error {
	key, ok, err := m.Value.value(m.Table.Distribution.KeyType, p)
	if err != nil {
		return err
	}
	if !ok {
		return pgerror.Unsupported("UPDATE setting distribution key column %s of table %s to NULL is not supported", m.Table.Key, tableName(m.Table))
	}
	to, err := m.Table.Distribution.ClusterFor(key)
	if err != nil {
		return pgerror.New(pgerror.CheckViolation, "no cluster of distribution %s accepts key %s = %s", m.Table.Distribution.Name, m.Table.Key, key)
	}
	if to != cluster {
		return keyMoveError(m.Table).WithHint("The new key %s belongs on cluster %s, the row is on %s. Delete the row and insert it with the new key in one transaction.", key, to, cluster)
	}
	return nil
}

func keyMoveError(t *shardmap.Table) *pgerror.Error {
	return pgerror.Unsupported("UPDATE of distribution key column %s of table %s that moves rows to another cluster is not supported", t.Key, tableName(t))
}

// keyAssignment finds SET key = value in an UPDATE of a distributed table.
// It returns nil when the key is not assigned or assigned itself
// (SET id = id, as ORMs write); a value the router cannot place (an
// expression) is refused.
func keyAssignment(a *analysis, u *pg_query.UpdateStmt) (*KeyMove, error) {
	var target *relRef
	for _, r := range a.rels {
		if r.write && r.rv == u.Relation {
			target = r
		}
	}
	if target == nil || !target.distributed() {
		return nil, nil
	}
	t := target.table
	for _, n := range u.TargetList {
		rt, ok := unwrap(n).(*pg_query.ResTarget)
		if !ok || rt.Name != t.Key {
			continue
		}
		if _, multi := unwrap(rt.Val).(*pg_query.MultiAssignRef); multi || len(rt.Indirection) > 0 {
			return nil, keyMoveError(t).WithHint("Assign the key alone: SET %s = value.", t.Key)
		}
		if a.keyColumn(rt.Val, []*relRef{target}) == target {
			return nil, nil // the key keeps its value
		}
		v, ok, err := a.keyValue(rt.Val, t.Distribution.KeyType)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, pgerror.Unsupported("UPDATE of distribution key column %s of table %s to a computed value is not supported: the router could not tell whether the row stays on its cluster", t.Key, tableName(t)).
				WithHint("Set the key to a constant or a parameter, or delete the row and insert it with the new key in one transaction.")
		}
		return &KeyMove{Table: t, Value: v}, nil
	}
	return nil, nil
}

// placeKeyMove attaches a key assignment to the route it belongs to,
// refusing it at once when its cluster is known to differ.
func placeKeyMove(p Plan, m *KeyMove) (Plan, error) {
	r, ok := p.(*Route)
	if !ok {
		return nil, keyMoveError(m.Table)
	}
	if len(r.Target.Static) == 1 && !r.Target.Deferred() && m.Value.Param == 0 {
		if err := m.check(r.Target.Static[0], Params{}); err != nil {
			return nil, err
		}
		return r, nil
	}
	r.KeyMove = m
	return r, nil
}

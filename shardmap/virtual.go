package shardmap

// NewHashDistribution makes a hash distribution that no document declares:
// the hash space split evenly over clusters, in order. The planner uses
// one to repartition rows by a join key for one statement.
func NewHashDistribution(name string, keyType KeyType, clusters []string) *Distribution {
	d := &Distribution{Name: name, Type: DistHash, KeyType: keyType, HashRanges: EvenHashRanges(clusters), HashShortForm: true}
	for _, c := range clusters {
		d.addCluster(c)
	}
	return d
}

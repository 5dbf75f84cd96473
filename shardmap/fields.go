package shardmap

// The fields of each object of the document, in the order messages list
// them; a leading '!' marks a required field. schemas/shardmap.schema.json
// must describe exactly these (a test checks it).
var (
	topFields           = []string{"!version", "!clusters", "coordinator", "default_cluster", "distributions", "tables"}
	clusterFields       = []string{"!primary", "replicas", "state"}
	replicaFields       = []string{"!url", "weight"}
	distributionFields  = []string{"!type", "!key_type", "shards", "ranges", "lists", "default"}
	hashRangeFields     = []string{"!cluster", "hash_from", "hash_to"}
	keyRangeFields      = []string{"!cluster", "from", "to"}
	valueListFields     = []string{"!cluster", "!values"}
	tableFields         = []string{"distribution", "key", "reference", "vertical"}
	verticalGroupFields = []string{"!table", "!columns", "distribution"}
)

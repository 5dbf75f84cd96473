package txn

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A distributed transaction is named by a transaction id, and each of its
// participants by a GID (the name given to PREPARE TRANSACTION):
//
//	transaction id  sqlr_<router>.<epoch>.<seq>
//	GID             sqlr_<router>.<epoch>.<seq>.<cluster>
//
// <router> is the router id, <epoch> is fixed for the life of one router
// process (its start time in milliseconds, base 36, then 4 random hex
// digits), so that a restarted router never reuses a GID still prepared
// from before its crash, and <seq> counts the process's transactions in
// decimal. Router ids hold no dots and epochs and sequence numbers hold
// none either, so the cluster is whatever follows the third dot.
const gidPrefix = "sqlr_"

// maxGIDLen is the longest GID PostgreSQL accepts: GIDSIZE is 200 bytes
// including the terminating NUL.
const maxGIDLen = 199

// maxRouterIDLen bounds router ids so that GIDs stay under maxGIDLen with
// any cluster name the shard map allows (63 bytes).
const maxRouterIDLen = 63

// GID is a parsed participant GID.
type GID struct {
	// Router is the id of the router that coordinated the transaction.
	Router string
	// Txn is the transaction id, the key of its decision: the GID without
	// the cluster.
	Txn string
	// Cluster is the participant's cluster.
	Cluster string
}

// String returns the GID as given to PREPARE TRANSACTION.
func (g GID) String() string { return g.Txn + "." + g.Cluster }

// ParseGID parses a participant GID written by a Coordinator; ok is false
// for anything else (other software's prepared transactions, or GIDs of
// an older format).
func ParseGID(gid string) (g GID, ok bool) {
	router, rest, ok := parseTxnPrefix(gid)
	if !ok {
		return GID{}, false
	}
	seq, cluster, ok := strings.Cut(rest, ".")
	if !ok || !isDecimal(seq) || cluster == "" {
		return GID{}, false
	}
	return GID{Router: router, Txn: gid[:len(gid)-len(cluster)-1], Cluster: cluster}, true
}

// parseTxnPrefix splits "sqlr_<router>.<epoch>.<rest>".
func parseTxnPrefix(s string) (router, rest string, ok bool) {
	s, ok = strings.CutPrefix(s, gidPrefix)
	if !ok {
		return "", "", false
	}
	router, s, ok = strings.Cut(s, ".")
	if !ok || ValidRouterID(router) != nil {
		return "", "", false
	}
	epoch, rest, ok := strings.Cut(s, ".")
	if !ok || !isEpoch(epoch) {
		return "", "", false
	}
	return router, rest, true
}

// ValidRouterID reports whether id can name a router: 1 to 63 letters,
// digits, '_' or '-'.
func ValidRouterID(id string) error {
	if id == "" || len(id) > maxRouterIDLen {
		return fmt.Errorf("router id %q: want 1 to %d characters", id, maxRouterIDLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return fmt.Errorf("router id %q: only letters, digits, '_' and '-' are allowed", id)
		}
	}
	return nil
}

// newEpoch returns a fresh process epoch.
func newEpoch() string {
	var b [2]byte
	rand.Read(b[:])
	return strconv.FormatInt(time.Now().UnixMilli(), 36) + fmt.Sprintf("%04x", binary.BigEndian.Uint16(b[:]))
}

// txnID formats a transaction id.
func txnID(router, epoch string, seq uint64) string {
	return gidPrefix + router + "." + epoch + "." + strconv.FormatUint(seq, 10)
}

// participantGID returns the GID of txid's participant on cluster.
func participantGID(txid, cluster string) (string, error) {
	gid := txid + "." + cluster
	if cluster == "" || len(gid) > maxGIDLen {
		return "", fmt.Errorf("txn: cannot name the prepared transaction of cluster %q: GIDs are at most %d bytes", cluster, maxGIDLen)
	}
	return gid, nil
}

func isEpoch(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

package replication

import (
	"fmt"
	"strconv"
	"strings"
)

// Level is a read's consistency level: which nodes may serve it. The zero
// value is ReadYourWrites, the default.
type Level int

const (
	// ReadYourWrites ("ryw") reads from a replica that has replayed the
	// session's own writes on that cluster (Requirement.MinLSN), waiting a
	// bounded time for one, else from the primary.
	ReadYourWrites Level = iota
	// Strong ("strong") reads from the primary.
	Strong
	// Bounded ("bounded") reads from a replica whose lag is at most
	// Requirement.MaxLag.
	Bounded
	// Eventual ("eventual") reads from any healthy replica, however stale.
	Eventual
)

// levelNames are the names ParseLevel accepts and String prints.
var levelNames = [...]string{
	ReadYourWrites: "ryw",
	Strong:         "strong",
	Bounded:        "bounded",
	Eventual:       "eventual",
}

// ParseLevel reads a level name, "strong", "ryw", "bounded" or "eventual",
// in any case (the value of SET sqlrouter.read_consistency).
func ParseLevel(s string) (Level, error) {
	for l, name := range levelNames {
		if strings.EqualFold(s, name) {
			return Level(l), nil
		}
	}
	return 0, fmt.Errorf("replication: invalid consistency level %q (expected strong, ryw, bounded or eventual)", s)
}

// String returns the level's name as ParseLevel accepts it.
func (l Level) String() string {
	if l >= 0 && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

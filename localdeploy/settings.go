package localdeploy

import (
	"maps"
	"slices"
)

// baseSettings are the server settings of every instance. They are passed
// as -c options, so they override postgresql.conf and ALTER SYSTEM.
func baseSettings() map[string]string {
	return map[string]string{
		"listen_addresses":          "127.0.0.1",
		"unix_socket_directories":   "",
		"wal_level":                 "logical",
		"max_prepared_transactions": "64",
		"max_wal_senders":           "10",
		"max_replication_slots":     "10",
		"hot_standby":               "on",
		"hot_standby_feedback":      "on",
		// Test and dev speed. Durability against a killed postmaster still
		// holds: synchronous_commit=on makes every acknowledged commit
		// write(2) its WAL, and the page cache outlives the process.
		"fsync":              "off",
		"synchronous_commit": "on",
		"full_page_writes":   "off",
		"shared_buffers":     "32MB",
		"max_connections":    "200",
		"wal_keep_size":      "256MB",
		// The server's stderr is redirected to DataDir/server.log.
		"logging_collector": "off",
	}
}

// mergeSettings returns base overridden by each of extra in turn.
func mergeSettings(base map[string]string, extra ...map[string]string) map[string]string {
	out := maps.Clone(base)
	for _, e := range extra {
		maps.Copy(out, e)
	}
	return out
}

// settingArgs renders settings as postgres command-line options, sorted so
// that the command line is stable.
func settingArgs(settings map[string]string) []string {
	var args []string
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		args = append(args, "-c", k+"="+settings[k])
	}
	return args
}

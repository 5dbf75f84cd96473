// Package docs is sqlrouter's user manual (the Markdown pages of this
// folder, linked from the repository's README) and the sample
// configuration. It holds no code: its tests check the manual against the
// code, so that every configuration key, every shard map field, every
// validator message and every SQLSTATE the router raises itself is
// documented, and that every link of the manual leads somewhere.
package docs

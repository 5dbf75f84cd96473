package planner

import (
	"fmt"
	"testing"
)

func TestProbe(t *testing.T) {
	m := loadTestMap(t)
	p := New(Options{})
	for _, q := range []string{
		"SELECT name FROM users WHERE id = 5",
		"SELECT u.name, u.score FROM users u WHERE u.id = 5",
		"SELECT * FROM users",
		"SELECT u.name, c.id FROM users u JOIN customers c ON c.id = u.id WHERE u.score > 3",
		"INSERT INTO users (id, name, score) VALUES (1, 'a', 3), (2, 'b', 4)",
		"INSERT INTO users (id, name, score) VALUES ($1, $2, $3) RETURNING name",
		"UPDATE users SET score = score + 1 WHERE id = 7",
		"UPDATE users SET score = 1, name = 'x' WHERE id = 7",
		"UPDATE users SET score = length(name) WHERE id = 7",
		"DELETE FROM users WHERE id = 7",
		"DELETE FROM users WHERE id = 7 AND name = 'x'",
		"CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, score int CHECK (score > 0))",
		"ALTER TABLE users ALTER COLUMN score SET DEFAULT 0",
		"CREATE INDEX ON users (name)",
		"DROP TABLE users",
		"TRUNCATE users",
		"COPY users TO STDOUT",
		"EXPLAIN SELECT name FROM users WHERE id = 5",
	} {
		fmt.Println(q)
		fmt.Println(describe(p, m, goldenCase{Query: q}))
		fmt.Println("----")
	}
}

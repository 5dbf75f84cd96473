package difftest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// The write script runs on the router and on the reference server, one
// statement after the other: INSERT ... SELECT (pushed down and through
// the router), fan-out UPDATE and DELETE with joins, ON CONFLICT, writes
// to a reference table and a table outside the map, and statements that
// must fail as a whole. Each statement's answer and the tables at the
// end must be the same.
func TestWritesDifferential(t *testing.T) {
	ctx := context.Background()
	router, err := pgconn.Connect(ctx, stack.RouterDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer router.Close(ctx)
	ref, err := pgconn.Connect(ctx, reference.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close(ctx)
	script := loadScript(t, "testdata/writes.sql")
	if len(script) < 30 {
		t.Errorf("the write script has %d statements, want at least 30", len(script))
	}
	for _, q := range script {
		got, want := ask(ctx, router, q.sql), ask(ctx, ref, q.sql)
		if msg := compare(q, got, want); msg != "" {
			t.Errorf("writes.sql:%d: %s\n%s", q.line, msg, q.sql)
		}
	}
}

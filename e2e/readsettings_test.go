package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The router reads SQL text with standard conforming strings on; every
// route to turning them off for a session is refused, and the session
// goes on.
func TestStandardConformingStringsStayOn(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t)
	for _, sql := range []string{
		"SET standard_conforming_strings = off",
		"SELECT set_config('standard_conforming_strings', 'off', false)",
		"SELECT pg_catalog.set_config('STANDARD_CONFORMING_STRINGS', 'off', true)",
	} {
		if _, err := c.Exec(ctx, sql); sqlstate(err) != "0A000" {
			t.Errorf("%s: %v, want 0A000", sql, err)
		}
	}
	var scs string
	if err := c.QueryRow(ctx, "SHOW standard_conforming_strings").Scan(&scs); err != nil || scs != "on" {
		t.Errorf("after the refusals: standard_conforming_strings = %q, %v", scs, err)
	}

	// Clusters whose database defaults to off refuse the login (a router
	// of its own: the shared one's pooled sessions predate the default).
	reset := func() {
		for _, cl := range clusters() {
			primary(t, cl).Exec(context.Background(), "ALTER DATABASE app RESET standard_conforming_strings")
		}
	}
	t.Cleanup(reset)
	for _, cl := range clusters() {
		if _, err := primary(t, cl).Exec(ctx, "ALTER DATABASE app SET standard_conforming_strings = off"); err != nil {
			t.Fatal(err)
		}
	}
	off, err := pgx.Connect(ctx, dsnFor(startRouter(t, nil), "app", "unused"))
	reset()
	if err == nil {
		off.Close(ctx)
		t.Fatal("login with standard_conforming_strings off on the clusters: accepted")
	}
	if sqlstate(err) != "0A000" || !strings.Contains(err.Error(), "standard_conforming_strings") {
		t.Errorf("login with standard_conforming_strings off on the clusters: %v, want 0A000 naming the setting", err)
	}
}

package opstest

import (
	"bytes"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sqlrouter/sqlrouter/executor"
	"github.com/sqlrouter/sqlrouter/localdeploy"
)

// view runs SHOW name through pgx in the given mode and returns the
// column names and the rows, as text.
func view(t *testing.T, c *pgx.Conn, mode pgx.QueryExecMode, name string) ([]string, [][]string) {
	t.Helper()
	rows, err := c.Query(ctxT(t), "SHOW "+name, mode)
	if err != nil {
		t.Fatalf("SHOW %s: %v", name, err)
	}
	defer rows.Close()
	var cols []string
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	var out [][]string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = v.(string)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("SHOW %s: %v", name, err)
	}
	return cols, out
}

// The admin views answer with several columns, with the extended and the
// simple protocol alike: every server of the map with its health and
// breaker, the connections per server, the tables of the shard map, the
// counters per cluster.
func TestAdminViews(t *testing.T) {
	ctx := ctxT(t)
	c := connect(t, nil)
	k1 := keyOn(t, "s1")
	if _, err := c.Exec(ctx, "INSERT INTO customers (id, name) VALUES ($1, 'v')", k1); err != nil {
		t.Fatal(err)
	}
	s1 := stack.Deployment.Cluster("s1")
	s1Primary := executor.NodeName(s1.Primary.DSN(""))
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		cols, rows := view(t, c, mode, "sqlrouter.clusters")
		if want := []string{"cluster", "node", "role", "state", "lag", "lsn", "breaker", "failures", "last_error"}; !slices.Equal(cols, want) {
			t.Fatalf("clusters columns %v, want %v", cols, want)
		}
		if len(rows) != 5 {
			t.Fatalf("clusters: %d rows, want 2 primaries, 2 replicas and the coordinator: %v", len(rows), rows)
		}
		for _, r := range rows {
			if r[6] != "closed" || r[7] != "0" {
				t.Errorf("clusters row %v: breaker not closed", r)
			}
			if r[2] != "coordinator" && r[3] != "up" {
				t.Errorf("clusters row %v: not up", r)
			}
			if (r[2] == "replica") != (r[4] != "") {
				t.Errorf("clusters row %v: lag only for replicas", r)
			}
		}
		if r := rows[2]; r[0] != "s1" || r[1] != s1Primary || r[2] != "primary" {
			t.Errorf("clusters row 3 is %v, want s1's primary %s", r, s1Primary)
		}

		cols, rows = view(t, c, mode, "sqlrouter.pools")
		if want := []string{"cluster", "node", "role", "in_use", "idle", "waiting", "max"}; !slices.Equal(cols, want) {
			t.Fatalf("pools columns %v, want %v", cols, want)
		}
		// Between statements the connection waits in the pool (transaction
		// pooling): in use or idle, it is there.
		if !slices.ContainsFunc(rows, func(r []string) bool {
			return r[0] == "s1" && r[1] == s1Primary && (r[3] != "0" || r[4] != "0") && r[6] == "100"
		}) {
			t.Errorf("pools: no connection to s1's primary: %v", rows)
		}

		cols, rows = view(t, c, mode, "sqlrouter.shardmap")
		if want := []string{"revision", "table", "placement", "distribution", "type", "key", "key_type", "clusters"}; !slices.Equal(cols, want) {
			t.Fatalf("shardmap columns %v, want %v", cols, want)
		}
		rev := stack.Router.Snapshot().Revision
		for _, want := range [][]string{
			{"customers", "distributed", "by_customer", "hash", "id", "bigint", "s0,s1"},
			{"countries", "reference", "", "", "", "", "s0,s1"},
		} {
			if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r[1:], want) && r[0] == strconv.FormatInt(rev, 10) }) {
				t.Errorf("shardmap: no row %v at revision %d: %v", want, rev, rows)
			}
		}

		cols, rows = view(t, c, mode, "sqlrouter.stats")
		if want := []string{"cluster", "statements", "primary_reads", "replica_reads", "rows_moved", "requests", "errors", "avg_request_ms"}; !slices.Equal(cols, want) {
			t.Fatalf("stats columns %v, want %v", cols, want)
		}
		if rows[0][0] != "(clients)" || !slices.ContainsFunc(rows, func(r []string) bool { return r[0] == "s1" && r[1] != "0" }) {
			t.Errorf("stats: %v", rows)
		}
	}
	// An unknown sqlrouter.* name is still an error.
	if _, err := c.Exec(ctx, "SHOW sqlrouter.nothing"); sqlstate(err) != "42704" {
		t.Errorf("SHOW sqlrouter.nothing: %v", err)
	}
}

// psql shows an admin view as a table with a header.
func TestAdminViewInPsql(t *testing.T) {
	bin, err := localdeploy.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctxT(t), bin.Path("psql"), "-X", "-A", "-F", "|", "-c", "SHOW sqlrouter.clusters", stack.RouterDSN())
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("psql: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 7 || lines[0] != "cluster|node|role|state|lag|lsn|breaker|failures|last_error" || lines[6] != "(5 rows)" {
		t.Fatalf("psql output:\n%s", out.String())
	}
	if !strings.HasPrefix(lines[1], "s0|") || !strings.Contains(lines[1], "|primary|up|") {
		t.Errorf("first row %q", lines[1])
	}
}

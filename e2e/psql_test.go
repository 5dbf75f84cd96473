package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/sqlrouter/sqlrouter/localdeploy"
)

// psql runs the psql binary against the router with a script on stdin.
func psql(t testing.TB, script string, args ...string) (string, error) {
	t.Helper()
	bin, err := localdeploy.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctxT(t), bin.Path("psql"), append([]string{"-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", stack.RouterDSN()}, args...)...)
	cmd.Stdin = strings.NewReader(script)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if err != nil {
		return out.String() + errOut.String(), err
	}
	return out.String(), nil
}

func TestPsql(t *testing.T) {
	a, b := keyOn(t, "s0"), keyOn(t, "s1")
	script := fmt.Sprintf(`
INSERT INTO customers (id, name, country) VALUES (%[1]d, 'Ann', 'fr'), (%[2]d, 'Bob', 'jp');
SELECT c.name || ':' || k.name FROM customers c JOIN countries k ON k.code = c.country WHERE c.id = %[1]d;
SELECT name FROM customers WHERE id = %[2]d;
BEGIN;
UPDATE customers SET name = 'Bobby' WHERE id = %[2]d;
COMMIT;
SELECT name FROM customers WHERE id = %[2]d;
CREATE TABLE psql_plain (x int);
\copy psql_plain FROM STDIN
1
2
3
\.
SELECT sum(x) FROM psql_plain;
DROP TABLE psql_plain;
`, a, b)
	out, err := psql(t, script)
	if err != nil {
		t.Fatalf("psql failed: %v\n%s", err, out)
	}
	want := "Ann:France\nBob\nBobby\n6\n"
	if out != want {
		t.Errorf("psql output:\n%s\nwant:\n%s", out, want)
	}
	assertPlacedOn(t, "customers", "id", a, "s0")
	assertPlacedOn(t, "customers", "id", b, "s1")

	// A refused statement: psql shows the SQLSTATE and stops.
	out, err = psql(t, "\\set VERBOSITY verbose\nUPDATE orders o SET amount = 0 FROM customers c WHERE c.name = o.status;\n")
	if err == nil || !strings.Contains(out, "0A000") {
		t.Errorf("psql on a refused statement: %v\n%s", err, out)
	}
}

package drivertest

import (
	"os"
	"os/exec"
	"testing"
)

// jdbcJar is where Debian's libpostgresql-jdbc-java puts the driver.
const jdbcJar = "/usr/share/java/postgresql.jar"

// The scenario with the PostgreSQL JDBC driver: PreparedStatement with
// server-side statements from the first execution (prepareThreshold=1),
// verify-full with the CA file, Statement.cancel() from another thread.
func TestJDBC(t *testing.T) {
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("no java on PATH (.ci/run installs a JDK: default-jdk-headless)")
	}
	if _, err := os.Stat(jdbcJar); err != nil {
		t.Skipf("the JDBC driver is not installed (apt-get install libpostgresql-jdbc-java, as .ci/run does): %v", err)
	}
	s := newScenario(t, "jdbc")
	// A single source file: java compiles it in memory.
	check(t, s, startProcess(t, s, exec.Command("java", "-cp", jdbcJar, "testdata/jdbc/Scenario.java")))
}

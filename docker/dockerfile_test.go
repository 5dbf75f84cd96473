package docker

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The Dockerfile builds the binaries the compose file runs, statically,
// into a final image that is not the build image and does not run as
// root; the build context keeps what the build needs.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	var stages []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "FROM ") {
			stages = append(stages, line)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, found %d FROM lines", len(stages))
	}
	final := text[strings.LastIndex(text, "\nFROM "):]
	if strings.Contains(stages[len(stages)-1], "golang") {
		t.Errorf("the final stage %q is the Go toolchain image", stages[len(stages)-1])
	}
	user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindStringSubmatch(final)
	if user == nil || strings.HasPrefix(user[1], "0") || strings.HasPrefix(user[1], "root") {
		t.Errorf("the final stage runs as %v: want a non-root USER", user)
	}

	// Every `go build -o OUT PKG`: PKG exists, OUT reaches /usr/local/bin.
	builds := regexp.MustCompile(`go build ([^&\n]*?)-o (\S+) (\./\S+)`).FindAllStringSubmatch(text, -1)
	built := map[string]string{}
	for _, b := range builds {
		out, pkg := b[2], b[3]
		if _, err := os.Stat("../" + strings.TrimPrefix(pkg, "./")); err != nil {
			t.Errorf("the Dockerfile builds %s: %v", pkg, err)
		}
		built[out[strings.LastIndex(out, "/")+1:]] = b[0]
	}
	for _, bin := range []string{"sqlrouter", "sqlrouter-healthcheck"} {
		cmd, ok := built[bin]
		if !ok {
			t.Errorf("the Dockerfile does not build %s", bin)
			continue
		}
		if !strings.Contains(final, "/out/"+bin) {
			t.Errorf("the final stage does not copy %s", bin)
		}
		if bin == "sqlrouter" && !strings.Contains(cmd, "-static") {
			t.Errorf("sqlrouter is not linked statically: %s", cmd)
		}
	}
	if !strings.Contains(text, "CGO_ENABLED=1 go build") {
		t.Error("sqlrouter needs cgo (pg_query_go): CGO_ENABLED=1")
	}
	if !strings.Contains(final, `ENTRYPOINT ["/usr/local/bin/sqlrouter"]`) {
		t.Error("the image's entrypoint is not /usr/local/bin/sqlrouter (compose passes only its arguments)")
	}

	ignore, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(ignore), "\n") {
		line = strings.TrimSpace(line)
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "docker", "*.go"} {
			if line == needed || line == "/"+needed {
				t.Errorf("Dockerfile.dockerignore excludes %s, which the build needs", needed)
			}
		}
	}
}

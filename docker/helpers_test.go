package docker

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/sqlrouter/sqlrouter/router"
)

// composeFile is the part of a compose file the tests read.
type composeFile struct {
	Name     string                     `yaml:"name"`
	Services map[string]*composeService `yaml:"services"`
	Volumes  map[string]any             `yaml:"volumes"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string            `yaml:"context"`
		Dockerfile string            `yaml:"dockerfile"`
		Args       map[string]string `yaml:"args"`
	} `yaml:"build"`
	Entrypoint  []string                  `yaml:"entrypoint"`
	Command     []string                  `yaml:"command"`
	Environment map[string]string         `yaml:"environment"`
	Volumes     []string                  `yaml:"volumes"`
	Ports       []string                  `yaml:"ports"`
	DependsOn   map[string]composeDepends `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Restart string `yaml:"restart"`
}

type composeDepends struct {
	Condition string `yaml:"condition"`
}

// variable matches compose's ${NAME}, ${NAME:-default} and ${NAME-default}.
var variable = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}`)

// interpolate does what compose does to the file's text with an empty
// environment: every variable becomes its default. It fails on a variable
// without one, since the file must work with no environment at all.
func interpolate(text string) (string, error) {
	var missing []string
	out := variable.ReplaceAllStringFunc(text, func(m string) string {
		sub := variable.FindStringSubmatch(m)
		if sub[2] == "" {
			missing = append(missing, sub[1])
		}
		return sub[3]
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("variables without a default: %v", missing)
	}
	return strings.ReplaceAll(out, "$$", "$"), nil
}

// loadCompose reads compose.yaml as compose would with no environment, and
// also returns the services as written (variables not interpolated).
func loadCompose(t *testing.T) (resolved, raw *composeFile) {
	t.Helper()
	text, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	resolvedText, err := interpolate(string(text))
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	resolved, raw = &composeFile{}, &composeFile{}
	if err := yaml.Unmarshal([]byte(resolvedText), resolved); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if err := yaml.Unmarshal(text, raw); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if len(resolved.Services) == 0 {
		t.Fatal("compose.yaml has no services")
	}
	return resolved, raw
}

// mount is one bind mount or named volume of a service.
type mount struct {
	source, target string
	bind           bool // source is a host path (relative to docker/)
}

func (s *composeService) mounts() []mount {
	var out []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			continue
		}
		m := mount{source: parts[0], target: parts[1]}
		m.bind = strings.HasPrefix(m.source, ".") || strings.HasPrefix(m.source, "/")
		out = append(out, m)
	}
	return out
}

// hostFile is the file of docker/ that a service sees at target.
func (s *composeService) hostFile(target string) (string, bool) {
	for _, m := range s.mounts() {
		if m.bind && m.target == target {
			return m.source, true
		}
	}
	return "", false
}

// settings reads the -c name=value options of a postgres command line.
func settings(command []string) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(command); i++ {
		if command[i] == "-c" {
			name, value, _ := strings.Cut(command[i+1], "=")
			out[name] = value
		}
	}
	return out
}

// flagValue returns the value of --name=value or --name value in args.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// urlPort returns the port of a URL, or def when it has none.
func urlPort(u *url.URL, def int) int {
	if p := u.Port(); p != "" {
		n, _ := strconv.Atoi(p)
		return n
	}
	return def
}

// splitHostPort parses host:port.
func splitHostPort(t *testing.T, hp string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		t.Fatalf("%q: %v", hp, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("%q: %v", hp, err)
	}
	return host, n
}

// loadRouterConfig reads a router configuration file the way `sqlrouter
// serve --config` does (cmd/sqlrouter/config.go), unknown keys refused,
// with env standing for the process environment: SQLROUTER_<KEY> overrides
// the file's key.
func loadRouterConfig(file string, env map[string]string) (router.Config, error) {
	v := viper.New()
	v.SetConfigFile(file)
	if err := v.ReadInConfig(); err != nil {
		return router.Config{}, err
	}
	for _, k := range configKeys() {
		name := "SQLROUTER_" + strings.ToUpper(strings.ReplaceAll(k, ".", "_"))
		if value, ok := env[name]; ok {
			v.Set(k, value)
		}
	}
	var cfg router.Config
	err := v.Unmarshal(&cfg, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		)
	})
	return cfg, err
}

// configKeys lists the dotted keys of router.Config, from its mapstructure
// tags.
func configKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("mapstructure")
			if tag == "" || tag == "-" {
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() != "time" {
				walk(f.Type, prefix+tag+".")
				continue
			}
			keys = append(keys, prefix+tag)
		}
	}
	walk(reflect.TypeOf(router.Config{}), "")
	return keys
}

// serverAccount is who runs PostgreSQL and the scripts that run it: the
// postgres OS user when the tests run as root (PostgreSQL refuses root),
// else nobody in particular (nil: the current user).
func serverAccount(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("running as root needs the postgres OS user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// chownToServer gives path to the server account (when there is one).
func chownToServer(t *testing.T, cred *syscall.Credential, path string) {
	t.Helper()
	if cred == nil {
		return
	}
	if err := os.Chown(path, int(cred.Uid), int(cred.Gid)); err != nil {
		t.Fatal(err)
	}
}

// cleanEnv is a child's environment: ours without PG* and locale variables
// (a stray PGHOST would send a script elsewhere), in the C locale, plus
// extra.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PG") || strings.HasPrefix(name, "LC_") || name == "LANG" || name == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "LC_ALL=C", "LANG=C", "HOME=/"), extra...)
}

// scriptCommand runs a script of docker/ with bash as the server account,
// from / (the account may not enter our working directory).
func scriptCommand(t *testing.T, cred *syscall.Credential, script string, args ...string) *exec.Cmd {
	t.Helper()
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", append([]string{abs}, args...)...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	return cmd
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

package replication

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the expected outputs of testdata/scenarios/*.txt")

// TestScenarios runs the scripts of testdata/scenarios: stories of node
// checks, clock moves and choices, told to a Tracker whose checks are
// written in the script (Run is not running, so reads never wait). Each
// case is a command line, input lines, "----" and the expected output up
// to a blank line; lines starting with # between cases are comments.
//
//	tracker [policy=round_robin|least_connections|weighted] [threshold=N]
//	nodes                      input: "<cluster> primary|replica <name> [weight=N]"
//	check <name> lsn=<LSN>     a primary's successful check
//	check <name> replay=<LSN> [receive=<LSN>] [age=<duration>] [recovery=false]
//	check <name> error=<text>  a failed check
//	markfailed <name>          a caller's failure report
//	exclude <name> | include <name>  Tracker.Exclude (a circuit breaker)
//	advance <duration>         move the clock
//	acquire <name> | release <name>
//	choose <cluster> <level> [min=<LSN>] [maxlag=<duration>] [allow-primary] [n=<count>] [count]
//	status
//
// choose prints the chosen node of each of its n choices ("p0*" for a
// fallback to the primary), or with count how many times each was chosen.
// Regenerate the expected outputs with go test ./replication -run
// TestScenarios -update and review the diff.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/scenarios/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) { runScenarioFile(t, file) })
	}
}

// scenarioCase is one command of a script and where its expected output
// lies in the file.
type scenarioCase struct {
	line     int // of the command, 1-based
	command  string
	input    []string
	expected []string
	expFrom  int // index of the first expected line in the file's lines
	expTo    int // index after the last
}

func runScenarioFile(t *testing.T, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	cases := parseScenario(t, file, lines)
	s := &scenario{t: t}
	s.reset(nil)
	var outputs [][]string
	for _, c := range cases {
		got := s.run(c)
		outputs = append(outputs, got)
		if !*update && !slices.Equal(got, c.expected) {
			t.Errorf("%s:%d: %s\ngot:\n%s\nwant:\n%s", file, c.line, c.command,
				strings.Join(got, "\n"), strings.Join(c.expected, "\n"))
		}
	}
	if *update {
		var out []string
		prev := 0
		for i, c := range cases {
			out = append(out, lines[prev:c.expFrom]...)
			out = append(out, outputs[i]...)
			prev = c.expTo
		}
		out = append(out, lines[prev:]...)
		if err := os.WriteFile(file, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func parseScenario(t *testing.T, file string, lines []string) []scenarioCase {
	var cases []scenarioCase
	for i := 0; i < len(lines); {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			i++
			continue
		}
		c := scenarioCase{line: i + 1, command: l}
		i++
		for i < len(lines) && lines[i] != "----" {
			if strings.TrimSpace(lines[i]) == "" {
				t.Fatalf("%s:%d: blank line before ----", file, i+1)
			}
			c.input = append(c.input, strings.TrimSpace(lines[i]))
			i++
		}
		if i == len(lines) {
			t.Fatalf("%s:%d: %q has no ----", file, c.line, c.command)
		}
		i++
		c.expFrom = i
		for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
			c.expected = append(c.expected, lines[i])
			i++
		}
		c.expTo = i
		cases = append(cases, c)
	}
	return cases
}

// scenario is the state of one script run.
type scenario struct {
	t        *testing.T
	tr       *Tracker
	clock    time.Time
	start    time.Time
	names    map[string]string // node URL -> script name
	releases map[string][]func()
}

// scriptURL is the URL a script name stands for.
func scriptURL(name string) string { return "postgres://" + name + "/app" }

func (s *scenario) reset(opts *Options) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	s.start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s.clock = s.start
	o.Now = func() time.Time { return s.clock }
	o.Logger = discardLogger()
	s.tr = NewTracker(o)
	s.names = map[string]string{}
	s.releases = map[string][]func(){}
}

// run executes one case and returns its output lines.
func (s *scenario) run(c scenarioCase) []string {
	fields := strings.Fields(c.command)
	args := map[string]string{}
	var pos []string
	for _, f := range fields[1:] {
		if k, v, ok := strings.Cut(f, "="); ok {
			args[k] = v
		} else {
			pos = append(pos, f)
		}
	}
	out, err := s.exec(fields[0], pos, args, c.input)
	if err != nil {
		s.t.Fatalf("line %d: %s: %v", c.line, c.command, err)
	}
	return out
}

func (s *scenario) exec(cmd string, pos []string, args map[string]string, input []string) ([]string, error) {
	switch cmd {
	case "tracker":
		var o Options
		if p, ok := args["policy"]; ok {
			var err error
			if o.Policy, err = ParsePolicy(p); err != nil {
				return nil, err
			}
		}
		if th, ok := args["threshold"]; ok {
			o.FailThreshold, _ = strconv.Atoi(th)
		}
		s.reset(&o)
		return []string{"ok"}, nil

	case "nodes":
		var nodes []Node
		for _, l := range input {
			f := strings.Fields(l)
			if len(f) < 3 || (f[1] != "primary" && f[1] != "replica") {
				return nil, fmt.Errorf("bad node line %q", l)
			}
			n := Node{Cluster: f[0], URL: scriptURL(f[2]), Primary: f[1] == "primary", Weight: 1}
			if len(f) > 3 {
				w, ok := strings.CutPrefix(f[3], "weight=")
				if !ok {
					return nil, fmt.Errorf("bad node line %q", l)
				}
				n.Weight, _ = strconv.Atoi(w)
			}
			if n.Primary {
				n.Weight = 0
			}
			s.names[n.URL] = f[2]
			nodes = append(nodes, n)
		}
		s.tr.SetNodes(nodes)
		return []string{"ok"}, nil

	case "check", "markfailed":
		if len(pos) != 1 {
			return nil, fmt.Errorf("%s needs a node name", cmd)
		}
		st := s.tr.top.Load().byURL[scriptURL(pos[0])]
		if st == nil {
			return nil, fmt.Errorf("unknown node %s", pos[0])
		}
		if cmd == "markfailed" {
			s.tr.MarkFailed(scriptURL(pos[0]), fmt.Errorf("connection reset"))
			select { // the check it asks for is the script's business
			case <-st.wake:
			default:
			}
		} else {
			obs, err := observationOf(args)
			if err != nil {
				return nil, err
			}
			var checkErr error
			if e, ok := args["error"]; ok {
				checkErr = fmt.Errorf("%s", e)
			}
			s.tr.record(st, st.beginCheck(), obs, checkErr)
		}
		return s.statusOf(pos[0]), nil

	case "advance":
		d, err := time.ParseDuration(pos[0])
		if err != nil {
			return nil, err
		}
		s.clock = s.clock.Add(d)
		return []string{"now +" + s.clock.Sub(s.start).String()}, nil

	case "acquire":
		s.releases[pos[0]] = append(s.releases[pos[0]], s.tr.Acquire(scriptURL(pos[0])))
		return s.statusOf(pos[0]), nil

	case "release":
		rs := s.releases[pos[0]]
		if len(rs) == 0 {
			return nil, fmt.Errorf("nothing acquired on %s", pos[0])
		}
		rs[len(rs)-1]()
		rs[len(rs)-1]() // a second call changes nothing
		s.releases[pos[0]] = rs[:len(rs)-1]
		return s.statusOf(pos[0]), nil

	case "choose":
		return s.choose(pos, args)

	case "exclude", "include":
		s.tr.Exclude(scriptURL(pos[0]), cmd == "exclude")
		return s.statusOf(pos[0]), nil

	case "status":
		var out []string
		for _, ns := range s.tr.Status() {
			out = append(out, s.formatStatus(ns))
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown command %q", cmd)
}

// observationOf reads a check's answer from a command's arguments.
func observationOf(args map[string]string) (observation, error) {
	obs := observation{inRecovery: args["recovery"] != "false", replayAge: -1}
	var err error
	for _, k := range []string{"lsn", "replay", "receive"} {
		v, ok := args[k]
		if !ok {
			continue
		}
		lsn, perr := ParseLSN(v)
		if perr != nil {
			return obs, perr
		}
		if k == "receive" {
			obs.receiveLSN = lsn
		} else {
			obs.lsn = lsn
		}
	}
	if v, ok := args["age"]; ok {
		if obs.replayAge, err = time.ParseDuration(v); err != nil {
			return obs, err
		}
	}
	return obs, nil
}

func (s *scenario) choose(pos []string, args map[string]string) ([]string, error) {
	if len(pos) < 2 {
		return nil, fmt.Errorf("choose needs a cluster and a level")
	}
	level, err := ParseLevel(pos[1])
	if err != nil {
		return nil, err
	}
	req := Requirement{Level: level, AllowPrimary: slices.Contains(pos[2:], "allow-primary")}
	if v, ok := args["min"]; ok {
		if req.MinLSN, err = ParseLSN(v); err != nil {
			return nil, err
		}
	}
	if v, ok := args["maxlag"]; ok {
		if req.MaxLag, err = time.ParseDuration(v); err != nil {
			return nil, err
		}
	}
	n := 1
	if v, ok := args["n"]; ok {
		n, _ = strconv.Atoi(v)
	}
	var picks []string
	counts := map[string]int{}
	for range n {
		ch, err := s.tr.Choose(context.Background(), pos[0], req)
		if err != nil {
			return []string{"error: " + err.Error()}, nil
		}
		name := s.names[ch.Node.URL]
		if ch.Fallback {
			name += "*"
		}
		if ch.Waited != 0 {
			return nil, fmt.Errorf("Choose waited %s without Run", ch.Waited)
		}
		picks = append(picks, name)
		counts[name]++
	}
	if slices.Contains(pos[2:], "count") {
		var out []string
		for _, name := range slices.Sorted(maps.Keys(counts)) {
			out = append(out, fmt.Sprintf("%s=%d", name, counts[name]))
		}
		return []string{strings.Join(out, " ")}, nil
	}
	return []string{strings.Join(picks, " ")}, nil
}

func (s *scenario) statusOf(name string) []string {
	for _, ns := range s.tr.Status() {
		if ns.URL == scriptURL(name) {
			return []string{s.formatStatus(ns)}
		}
	}
	return []string{name + " not found"}
}

func (s *scenario) formatStatus(ns NodeStatus) string {
	health := "healthy"
	if !ns.Healthy {
		health = "unhealthy"
	}
	line := fmt.Sprintf("%s %s lsn=%s lag=%s failures=%d inflight=%d", s.names[ns.URL], health, ns.LSN, ns.Lag, ns.Failures, ns.InFlight)
	if ns.LastError != nil {
		line += " error=" + strconv.Quote(ns.LastError.Error())
	}
	if ns.Excluded {
		line += " excluded"
	}
	return line
}

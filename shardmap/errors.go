package shardmap

import (
	"fmt"
	"sort"
	"strings"
)

// Issue is one problem found in a shard map document.
type Issue struct {
	// Path locates the problem in the document, e.g.
	// `distributions.by_customer.shards[1]` or `tables["sales.orders"].key`;
	// "" means the document as a whole.
	Path string
	// Message says what is wrong, e.g. `unknown cluster "s9"`.
	Message string
	// Line and Column locate the YAML node (1-based; 0 when unknown).
	Line, Column int
}

// String renders the issue as "path: message".
func (i Issue) String() string {
	p := i.Path
	if p == "" {
		p = "(root)"
	}
	return p + ": " + i.Message
}

// ValidationError lists every problem Parse found in a document. Parse
// and Apply return it (wrapped by Apply); use errors.As to get the list.
type ValidationError struct {
	Issues []Issue
}

// Error renders one issue per line, in document order.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		lines[i] = is.String()
	}
	return strings.Join(lines, "\n")
}

// maxIssues caps the issues kept for one document: past that, more
// detail helps nobody and costs memory.
const maxIssues = 200

// issues collects problems while a document is checked.
type issues struct {
	list    []Issue
	dropped int
}

func (s *issues) add(path string, line, col int, format string, args ...any) {
	s.addCapped(true, path, line, col, format, args...)
}

// addCapped adds an issue; capped false keeps it even past maxIssues.
func (s *issues) addCapped(capped bool, path string, line, col int, format string, args ...any) {
	if capped && len(s.list) >= maxIssues {
		s.dropped++
		return
	}
	s.list = append(s.list, Issue{Path: path, Message: fmt.Sprintf(format, args...), Line: line, Column: col})
}

// err returns the collected issues in document order, or nil.
func (s *issues) err() error {
	if len(s.list) == 0 {
		return nil
	}
	sort.SliceStable(s.list, func(i, j int) bool {
		a, b := s.list[i], s.list[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	if s.dropped > 0 {
		s.list = append(s.list, Issue{Message: fmt.Sprintf("%d more problems not shown", s.dropped)})
		s.dropped = 0
	}
	return &ValidationError{Issues: s.list}
}

package playbooks

import (
	"fmt"
	"sort"
	"strings"
)

// Diagnostic severities.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Diagnostic is one problem found in a playbook, at a position in its source.
type Diagnostic struct {
	File       string `json:"file"`
	Line       int    `json:"line"`
	Col        int    `json:"col"`
	Severity   string `json:"severity"` // error | warning
	Message    string `json:"message"`
	Suggestion string `json:"suggestion,omitempty"` // the nearest valid name, when there is one
}

// Error formats the diagnostic as file:line:col: message.
func (d Diagnostic) Error() string {
	sev := ""
	if d.Severity == SeverityWarning {
		sev = "warning: "
	}
	msg := fmt.Sprintf("%s:%d:%d: %s%s", d.File, d.Line, d.Col, sev, d.Message)
	if d.Suggestion != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", d.Suggestion)
	}
	return msg
}

// Render formats the diagnostic with the offending source line and a caret under the column.
func (d Diagnostic) Render(src []byte) string {
	var b strings.Builder
	b.WriteString(d.Error())
	lines := strings.Split(string(src), "\n")
	if d.Line >= 1 && d.Line <= len(lines) {
		line := strings.TrimRight(lines[d.Line-1], "\r")
		fmt.Fprintf(&b, "\n  %4d | %s\n       | %s^", d.Line, line, strings.Repeat(" ", max(d.Col-1, 0)))
	}
	return b.String()
}

// CompileError is returned by Compile when a playbook has errors. It carries every problem
// found, not just the first.
type CompileError struct {
	File        string
	Source      []byte
	Diagnostics []Diagnostic
}

// Errors returns the diagnostics of severity error.
func (e *CompileError) Errors() []Diagnostic {
	var out []Diagnostic
	for _, d := range e.Diagnostics {
		if d.Severity == SeverityError {
			out = append(out, d)
		}
	}
	return out
}

// Error lists every diagnostic, one a line.
func (e *CompileError) Error() string {
	msgs := make([]string, len(e.Diagnostics))
	for i, d := range e.Diagnostics {
		msgs[i] = d.Error()
	}
	return strings.Join(msgs, "\n")
}

// Render lists every diagnostic with its source line and caret.
func (e *CompileError) Render() string {
	msgs := make([]string, len(e.Diagnostics))
	for i, d := range e.Diagnostics {
		msgs[i] = d.Render(e.Source)
	}
	return strings.Join(msgs, "\n")
}

// diags collects diagnostics while compiling.
type diags struct {
	file string
	list []Diagnostic
}

func (d *diags) add(line, col int, suggestion, format string, args ...any) {
	d.list = append(d.list, Diagnostic{File: d.file, Line: line, Col: col, Severity: SeverityError, Message: fmt.Sprintf(format, args...), Suggestion: suggestion})
}

func (d *diags) warn(line, col int, suggestion, format string, args ...any) {
	d.list = append(d.list, Diagnostic{File: d.file, Line: line, Col: col, Severity: SeverityWarning, Message: fmt.Sprintf(format, args...), Suggestion: suggestion})
}

func (d *diags) errors() int {
	n := 0
	for _, x := range d.list {
		if x.Severity == SeverityError {
			n++
		}
	}
	return n
}

func (d *diags) sorted() []Diagnostic {
	sort.SliceStable(d.list, func(i, j int) bool {
		if d.list[i].Line != d.list[j].Line {
			return d.list[i].Line < d.list[j].Line
		}
		return d.list[i].Col < d.list[j].Col
	})
	return d.list
}

// maxSuggestLen is the longest name nearest compares.
const maxSuggestLen = 80

// Nearest returns the candidate closest to s by edit distance, if it is close enough to be a
// plausible typo, for "did you mean" hints; "" when none is.
func Nearest(s string, candidates []string) string { return nearest(s, candidates) }

// nearest returns the candidate closest to s by edit distance, if it is close enough to be a
// plausible typo.
func nearest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	if len(s) > maxSuggestLen { // names are short; this keeps a hostile file from costing seconds
		return ""
	}
	for _, c := range candidates {
		if len(c) > maxSuggestLen {
			continue
		}
		if d := levenshtein(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

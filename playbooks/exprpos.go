package playbooks

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// exprSyntaxError is a syntax error in one ${{ }} expression of a YAML value, with where in
// the value it is, so the diagnostic can point at the playbook's line and column rather than
// at the CEL text the compiler generates from the value.
type exprSyntaxError struct {
	node   *yaml.Node
	offset int // byte offset of the error in node.Value
	msg    string
}

func (e *exprSyntaxError) Error() string { return "invalid expression: " + e.msg }

// syntaxCheck parses each ${{ }} expression of a scalar on its own.
func syntaxCheck(n *yaml.Node) error {
	base, err := baseEnv()
	if err != nil {
		return err
	}
	s := n.Value
	from := 0
	for {
		i := strings.Index(s[from:], "${{")
		if i < 0 {
			return nil
		}
		start := from + i + 3
		j := strings.Index(s[start:], "}}")
		if j < 0 {
			return nil // templateToCEL reports the unterminated expression
		}
		inner := s[start : start+j]
		if strings.TrimSpace(inner) != "" {
			if _, iss := base.Parse(inner); iss.Err() != nil {
				off := start
				msg := firstLine(iss.Err().Error())
				if errs := iss.Errors(); len(errs) > 0 {
					loc := errs[0].Location
					off = start + offsetOf(inner, loc.Line(), loc.Column())
					msg = errs[0].Message
				}
				return &exprSyntaxError{node: n, offset: off, msg: msg}
			}
		}
		from = start + j + 2
	}
}

// offsetOf turns CEL's 1-based line and 0-based column into a byte offset in s.
func offsetOf(s string, line, col int) int {
	off := 0
	for l := 1; l < line; l++ {
		k := strings.IndexByte(s[off:], '\n')
		if k < 0 {
			break
		}
		off += k + 1
	}
	off += col
	if off > len(s) {
		off = len(s)
	}
	return off
}

// errPos is where err should be reported: inside n's text for an expression syntax error
// found in the source, else n itself.
func (c *compiler) errPos(n *yaml.Node, err error) (int, int) {
	se, ok := err.(*exprSyntaxError)
	if !ok || se.node == nil {
		return n.Line, n.Column
	}
	v := se.node.Value
	lineStart := strings.LastIndexByte(v[:se.offset], '\n') + 1
	lineEnd := strings.IndexByte(v[se.offset:], '\n')
	if lineEnd < 0 {
		lineEnd = len(v)
	} else {
		lineEnd += se.offset
	}
	text := v[lineStart:lineEnd]
	col := se.offset - lineStart
	// The value's line appears verbatim in the source unless the YAML escaped or folded it;
	// look for it from the node's own line on.
	for l := se.node.Line; l <= len(c.lines) && l < se.node.Line+200; l++ {
		src := c.lines[l-1]
		from := 0
		if l == se.node.Line {
			from = min(se.node.Column-1, len(src))
		}
		if k := strings.Index(src[from:], text); k >= 0 && text != "" {
			return l, from + k + col + 1
		}
	}
	return se.node.Line, se.node.Column
}

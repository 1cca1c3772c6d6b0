package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// maxFileSize bounds what Load reads: a configuration file is a few kilobytes.
const maxFileSize = 1 << 20

// Problem is one finding about a configuration: where it is (file:line:col, or the
// environment variable that set the value), which key, and what was expected and found.
type Problem struct {
	File      string
	Line, Col int
	// Path is the key (temporal.tls.cert, http_services[1].base_url).
	Path string
	// Env names the environment variable the value came from, when it did.
	Env string
	Msg string
}

func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.Env != "":
		fmt.Fprintf(&b, "%s (overrides %s): ", p.Env, p.Path)
		return b.String() + p.Msg
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d:%d: ", p.File, p.Line, p.Col)
	case p.File != "":
		b.WriteString(p.File + ": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	return b.String() + p.Msg
}

// Error is every problem that makes a configuration unusable, in file order.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// pos is where a value is in the file.
type pos struct{ line, col int }

// Load reads and strictly decodes the file at path (see Parse).
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("configuration file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("configuration file %s: %w", path, err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("configuration file %s: expected at most %d bytes, found more", path, maxFileSize)
	}
	return Parse(path, b)
}

// Parse decodes a firebreak.yaml document strictly: an unknown key (with the nearest valid
// one suggested), a value of the wrong type or a repeated key is an error naming file, line
// and column. It does not validate values: see Validate.
func Parse(file string, data []byte) (*Config, error) {
	c := &Config{file: file, pos: map[string]pos{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &Error{[]Problem{{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return c, nil // an empty file configures nothing
	}
	root := doc.Content[0]
	d := &decoder{file: file, pos: c.pos}
	d.check(root, configType, "", 0)
	if len(d.problems) > 0 {
		return nil, &Error{d.problems}
	}
	if err := root.Decode(c); err != nil {
		return nil, &Error{[]Problem{{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	return c, nil
}

type decoder struct {
	file     string
	pos      map[string]pos
	problems []Problem
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: n.Line, Col: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) check(n *yaml.Node, t reflect.Type, path string, depth int) {
	if depth > 32 {
		d.fail(n, path, "expected at most 32 levels of nesting")
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.fail(n, path, "alias to nothing")
			return
		}
		n = n.Alias
	}
	if path != "" {
		d.pos[path] = pos{n.Line, n.Column}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value is the zero value
	}
	if t == personAWSType && n.Kind == yaml.ScalarNode {
		if n.Value != "none" {
			d.fail(n, path, "expected none (no IAM user) or a mapping {iam_user: NAME}, found %s", describeNode(n))
		}
		return
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == secretType || t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "expected a string, found %s", describeNode(n))
		} else if n.Tag == "!!bool" {
			d.fail(n, path, "expected a string, found the boolean %s (quote it if you mean the text)", n.Value)
		}
	case t.Kind() == reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.fail(n, path, "expected true or false, found %s", describeNode(n))
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, found %s", describeNode(n))
			return
		}
		for i, item := range n.Content {
			d.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping of names to values, found %s", describeNode(n))
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if seen[k.Value] {
				d.fail(k, path, "%q appears twice", k.Value)
			}
			seen[k.Value] = true
			d.check(v, t.Elem(), join(path, k.Value), depth+1)
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping of %s, found %s", keyList(t), describeNode(n))
			return
		}
		fields := map[string]reflect.StructField{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			if name := yamlName(t.Field(i)); name != "" {
				fields[name] = t.Field(i)
				names = append(names, name)
			}
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			if !ok {
				msg := fmt.Sprintf("unknown key %q", k.Value)
				if s := nearest(k.Value, names); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				} else {
					msg += "; expected one of " + strings.Join(names, ", ")
				}
				d.fail(k, path, "%s", msg)
				continue
			}
			if seen[k.Value] {
				d.fail(k, path, "%q appears twice", k.Value)
			}
			seen[k.Value] = true
			d.check(v, f.Type, join(path, k.Value), depth+1)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func keyList(t reflect.Type) string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			names = append(names, name)
		}
	}
	if len(names) > 4 {
		names = append(names[:4], "…")
	}
	return strings.Join(names, ", ")
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!bool":
			return "the boolean " + n.Value
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!str":
			return strconv.Quote(n.Value)
		}
		return n.Value
	}
	return "nothing"
}

// nearest is the candidate closest to s by edit distance, if it is close enough to be a typo
// (case-insensitive: keys are lower case).
func nearest(s string, candidates []string) string {
	return playbooks.Nearest(strings.ToLower(s), candidates)
}

// errorsOf unwraps an *Error into its problems; other errors become one problem.
func errorsOf(err error) []Problem {
	var e *Error
	if errors.As(err, &e) {
		return e.Problems
	}
	return []Problem{{Msg: err.Error()}}
}

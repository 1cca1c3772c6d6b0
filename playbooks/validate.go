package playbooks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Source is one playbook file to compile.
type Source struct {
	File    string
	Src     []byte
	Bundled bool // from the embedded library
}

// BundledSources returns the embedded library's playbook files, sorted by name.
func BundledSources() ([]Source, error) {
	entries, err := fs.ReadDir(library, "library")
	if err != nil {
		return nil, err
	}
	var out []Source
	for _, e := range entries {
		src, err := fs.ReadFile(library, "library/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, Source{File: "playbooks/library/" + e.Name(), Src: src, Bundled: true})
	}
	return out, nil
}

// ReadSources reads playbook files; a directory contributes its *.yaml and *.yml files. A
// path that does not exist or holds no playbook is an error wrapping ErrPath.
func ReadSources(paths ...string) ([]Source, error) {
	var out []Source
	for _, p := range paths {
		files, err := PlaybookFiles(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			src, err := readLimited(f)
			if err != nil {
				return nil, err
			}
			out = append(out, Source{File: f, Src: src})
		}
	}
	return out, nil
}

// readLimited reads a file but refuses one larger than MaxSourceBytes before reading it all.
func readLimited(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxSourceBytes {
		return nil, fmt.Errorf("%s: playbook is %d bytes; expected at most %d", path, st.Size(), MaxSourceBytes)
	}
	return os.ReadFile(path)
}

// Result is the outcome of validating one playbook file.
type Result struct {
	File string `json:"file"`
	Name string `json:"name,omitempty"`
	OK   bool   `json:"ok"`
	// Overrides names the bundled file this user playbook replaces (same name).
	Overrides string `json:"overrides,omitempty"`
	// Overridden is set on a bundled playbook that a user playbook replaces.
	OverriddenBy string       `json:"overridden_by,omitempty"`
	Steps        int          `json:"steps,omitempty"`
	Diagnostics  []Diagnostic `json:"diagnostics,omitempty"`
	Source       []byte       `json:"-"`
}

// Validate compiles every source and reports each with its diagnostics (errors and
// warnings), and which user playbooks override bundled ones. A later source with the name of
// an earlier non-bundled one is an error: two user files may not claim one name.
func Validate(sources []Source) []Result {
	out := make([]Result, len(sources))
	byName := map[string]int{}
	for i, s := range sources {
		r := Result{File: s.File, Source: s.Src}
		p, err := Compile(s.File, s.Src)
		var ce *CompileError
		switch {
		case err == nil:
			r.OK, r.Name, r.Steps, r.Diagnostics = true, p.Name, len(p.Steps), p.Warnings
		case errors.As(err, &ce):
			r.Diagnostics = ce.Diagnostics
		default:
			r.Diagnostics = []Diagnostic{{File: s.File, Line: 1, Col: 1, Severity: SeverityError, Message: err.Error()}}
		}
		if r.Name != "" {
			if j, seen := byName[r.Name]; seen {
				switch {
				case sources[j].Bundled && !s.Bundled:
					r.Overrides = sources[j].File
					out[j].OverriddenBy = s.File
				default:
					r.OK = false
					r.Diagnostics = append(r.Diagnostics, Diagnostic{File: s.File, Line: 1, Col: 1, Severity: SeverityError, Message: fmt.Sprintf("playbook name %q is already used by %s; names must be unique", r.Name, sources[j].File)})
				}
			}
			byName[r.Name] = i
		}
		out[i] = r
	}
	return out
}

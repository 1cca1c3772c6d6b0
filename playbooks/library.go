package playbooks

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed library/*.yaml
var library embed.FS

// BundledFS is the embedded library: library/*.yaml.
func BundledFS() fs.FS { return library }

// ErrUnknownPlaybook is returned when no playbook has the requested name.
var ErrUnknownPlaybook = errors.New("unknown playbook")

// Library is a set of compiled playbooks by name: the bundled ones, overridden by any of the
// same name in a user's directory.
type Library struct {
	plans       map[string]*Plan
	actionRoles []string
}

// ErrPath is wrapped by the error for a playbook path that does not exist, is not a playbook
// file, or is a directory without playbooks: a mistyped --playbooks must not quietly fall
// back to the bundled library.
var ErrPath = errors.New("bad playbook path")

// LoadLibrary compiles the bundled playbooks and, when path is not empty, the playbook file
// at path or every *.yaml and *.yml file in the directory at path. A user playbook with the
// name of a bundled one overrides it. A path that does not exist or holds no playbook is an
// error wrapping ErrPath; every compile error of every file is returned, joined.
func LoadLibrary(path string) (*Library, error) {
	lib := &Library{plans: map[string]*Plan{}}
	var errs []error
	entries, err := fs.ReadDir(library, "library")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		src, err := fs.ReadFile(library, "library/"+e.Name())
		if err != nil {
			return nil, err
		}
		p, err := Compile("playbooks/library/"+e.Name(), src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		lib.plans[p.Name] = p
	}
	if path != "" {
		files, err := PlaybookFiles(path)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			p, err := compileFile(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			lib.plans[p.Name] = p
		}
	}
	return lib, errors.Join(errs...)
}

// PlaybookFiles lists the playbook files path names: the file itself, or a directory's *.yaml
// and *.yml files, sorted. Anything else is an error wrapping ErrPath.
func PlaybookFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: expected a playbook file or a directory of playbooks, found nothing there", ErrPath, path)
	}
	if !st.IsDir() {
		if !isPlaybookFile(path) {
			return nil, fmt.Errorf("%w: %s: expected a playbook file ending in .yaml or .yml, or a directory of them", ErrPath, path)
		}
		return []string{path}, nil
	}
	var files []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		m, _ := filepath.Glob(filepath.Join(path, pattern))
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: %s: expected playbooks (*.yaml, *.yml) in this directory, found none", ErrPath, path)
	}
	return files, nil
}

func isPlaybookFile(path string) bool {
	return strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")
}

func compileFile(path string) (*Plan, error) {
	src, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	return Compile(path, src)
}

// Resolve finds a playbook by name in the library, or, when ref is a path to a playbook file
// (it names a .yaml or .yml file, or holds a path separator), compiles that file.
func (l *Library) Resolve(ref string) (*Plan, error) {
	if isPlaybookFile(ref) || strings.ContainsRune(ref, filepath.Separator) || strings.ContainsRune(ref, '/') {
		files, err := PlaybookFiles(ref)
		if err != nil {
			return nil, err
		}
		if len(files) != 1 {
			return nil, fmt.Errorf("%w: %s: expected one playbook file, found a directory of %d", ErrPath, ref, len(files))
		}
		return compileFile(files[0])
	}
	return l.Get(ref)
}

// Names lists the playbooks in the library, sorted.
func (l *Library) Names() []string { return keys(l.plans) }

// Get returns the plan named name, or an error wrapping ErrUnknownPlaybook that lists what exists.
func (l *Library) Get(name string) (*Plan, error) {
	if p, ok := l.plans[name]; ok {
		return p, nil
	}
	msg := fmt.Sprintf("%v %q; known playbooks: %s", ErrUnknownPlaybook, name, strings.Join(l.Names(), ", "))
	if s := nearest(name, l.Names()); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return nil, fmt.Errorf("%w", &unknownPlaybookError{msg: msg})
}

type unknownPlaybookError struct{ msg string }

func (e *unknownPlaybookError) Error() string { return e.msg }
func (e *unknownPlaybookError) Unwrap() error { return ErrUnknownPlaybook }

// ErrInvalidInput is wrapped by every input binding error.
var ErrInvalidInput = errors.New("invalid input")

// BindInputs checks raw key=value inputs against the plan's declarations — unknown names,
// required inputs, types and patterns — applies defaults and returns typed values.
func (p *Plan) BindInputs(raw map[string]string) (map[string]any, error) {
	out := map[string]any{}
	var errs []string
	declared := map[string]Input{}
	var names []string
	for _, in := range p.Inputs {
		declared[in.Name] = in
		names = append(names, in.Name)
	}
	for _, k := range keys(raw) {
		if _, ok := declared[k]; !ok {
			msg := fmt.Sprintf("playbook %s has no input %q; its inputs are %s", p.Name, k, strings.Join(names, ", "))
			if s := nearest(k, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			errs = append(errs, msg)
		}
	}
	for _, in := range p.Inputs {
		v, ok := raw[in.Name]
		if !ok {
			if in.Required {
				errs = append(errs, fmt.Sprintf("input %s is required (%s)", in.Name, in.Description))
				continue
			}
			if in.Default == "" { // expressions always see a value of the declared type
				out[in.Name] = in.zero()
				continue
			}
			v = in.Default
		}
		val, verr := in.Value(v)
		if verr != nil {
			errs = append(errs, fmt.Sprintf("input %s: %v", in.Name, verr))
			continue
		}
		out[in.Name] = val
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidInput, strings.Join(errs, "; "))
	}
	return out, nil
}

package playbooks

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed library/*.yaml
var library embed.FS

// ErrUnknownPlaybook is returned when no playbook has the requested name.
var ErrUnknownPlaybook = errors.New("unknown playbook")

// Library is a set of compiled playbooks by name: the bundled ones, overridden by any of the
// same name in a user's directory.
type Library struct {
	plans map[string]*Plan
}

// LoadLibrary compiles the bundled playbooks and, when dir is not empty, every *.yaml and
// *.yml file in dir. A file in dir with the name of a bundled playbook overrides it. Every
// compile error of every file is returned, joined.
func LoadLibrary(dir string) (*Library, error) {
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
	if dir != "" {
		files, _ := filepath.Glob(filepath.Join(dir, "*.y*ml"))
		sort.Strings(files)
		for _, f := range files {
			src, err := readLimited(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			p, err := Compile(f, src)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			lib.plans[p.Name] = p
		}
	}
	return lib, errors.Join(errs...)
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

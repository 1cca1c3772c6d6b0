package playbooks

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ValidatePaths validates the playbook files at paths and dir (a directory gives its *.yaml)
// with the bundled library, and says which user playbooks override bundled ones. With neither,
// the user playbooks are those in def when it holds any. Paths given are reported alone, their
// overrides still resolved against the bundled library. With strict, a result with warnings
// fails.
func ValidatePaths(given []string, dir, def string, strict bool) ([]Result, error) {
	bundled, err := BundledSources()
	if err != nil {
		return nil, err
	}
	paths := given
	if dir != "" {
		paths = append(paths, dir)
	}
	if len(paths) == 0 {
		// The default directory counts only when it holds playbooks (from the repository's
		// root, ./playbooks is the Go package); a path given is checked strictly.
		if st, err := os.Stat(def); err == nil && st.IsDir() {
			if _, err := PlaybookFiles(def); err == nil {
				paths = []string{def}
			}
		}
	}
	user, err := ReadSources(paths...)
	if err != nil {
		return nil, err
	}
	results := Validate(append(bundled, user...))
	if len(given) > 0 {
		results = results[len(bundled):]
	}
	if strict {
		for i := range results {
			for _, d := range results[i].Diagnostics {
				if d.Severity == SeverityWarning {
					results[i].OK = false
				}
			}
		}
	}
	return results, nil
}

// WriteResults writes validation results in format — text for people, json for machines,
// github for GitHub Actions annotations — and reports whether any failed.
func WriteResults(out io.Writer, format string, results []Result) (failed bool, err error) {
	for _, r := range results {
		failed = failed || !r.OK
	}
	switch format {
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return failed, enc.Encode(map[string]any{"ok": !failed, "playbooks": results})
	case "github":
		esc := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A") // as workflow commands expect
		for _, r := range results {
			for _, d := range r.Diagnostics {
				msg := d.Message
				if d.Suggestion != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", d.Suggestion)
				}
				fmt.Fprintf(out, "::%s file=%s,line=%d,col=%d,title=firebreak playbook::%s\n", d.Severity, d.File, d.Line, d.Col, esc.Replace(msg))
			}
			if r.Overrides != "" {
				fmt.Fprintf(out, "::notice file=%s,line=1,title=firebreak playbook::%s overrides the bundled playbook %s\n", r.File, r.Name, r.Overrides)
			}
		}
	default:
		for _, r := range results {
			for _, d := range r.Diagnostics {
				fmt.Fprintln(out, d.Render(r.Source))
			}
			switch {
			case !r.OK:
				fmt.Fprintf(out, "FAIL %s\n", r.File)
			case r.OverriddenBy != "":
				fmt.Fprintf(out, "ok   %s (%d steps; overridden by %s)\n", r.Name, r.Steps, r.OverriddenBy)
			case r.Overrides != "":
				fmt.Fprintf(out, "ok   %s (%s, %d steps; overrides the bundled %s)\n", r.Name, r.File, r.Steps, r.Overrides)
			default:
				fmt.Fprintf(out, "ok   %s (%s, %d steps)\n", r.Name, filepath.Base(r.File), r.Steps)
			}
		}
	}
	return failed, nil
}

// CatalogJSON is the catalog as `firebreak actions --json` prints it: durations as Go duration
// strings ("30s"), like the playbook language.
func CatalogJSON() any {
	type actionJSON struct {
		Action
		Timeout Duration `json:"timeout"`
	}
	cat := Catalog()
	list := make([]actionJSON, len(cat))
	for i, a := range cat {
		list[i] = actionJSON{Action: a, Timeout: Duration(a.Timeout)}
	}
	return list
}

// WriteCatalog writes the catalog as people read it: each action, what marks it (destructive,
// irreversible, verifies), its arguments and its outputs.
func WriteCatalog(out io.Writer) {
	for _, a := range Catalog() {
		flags := ""
		if a.Destructive {
			flags += " [destructive]"
		}
		switch {
		case a.Irreversible:
			flags += " [irreversible: waits for a second person]"
		case a.IrreversibleWith != "":
			flags += fmt.Sprintf(" [irreversible unless %s: false]", a.IrreversibleWith)
		}
		if a.Verifies {
			flags += " [verifies]"
		}
		fmt.Fprintf(out, "%s%s\n  %s\n", a.Name, flags, a.Summary)
		for _, p := range a.Args {
			if p.Internal {
				continue
			}
			req := ""
			if p.Required {
				req = ", required"
			}
			fmt.Fprintf(out, "    with %-16s %s%s — %s\n", p.Name, p.Type, req, p.Doc)
		}
		for _, p := range a.Outputs {
			fmt.Fprintf(out, "    out  %-16s %s — %s\n", p.Name, p.Type, p.Doc)
		}
	}
}

// ActionApproveRolesOf are the roles a worker configured with roles (comma-separated; none:
// DefaultApproveRole) approves irreversible single actions with (Library.ActionApproveRoles).
func ActionApproveRolesOf(roles string) []string {
	var l Library
	l.SetActionApproveRoles(strings.Split(roles, ","))
	return l.ActionApproveRoles()
}

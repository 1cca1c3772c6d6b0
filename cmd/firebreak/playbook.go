package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/playbooks"
)

func newPlaybookCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "playbook", Short: "Validate and inspect playbooks"}
	cmd.AddCommand(newValidateCmd(), newGraphCmd(), newExplainCmd(), newSchemaCmd())
	return cmd
}

// userPlaybookDir is where user playbooks live when no path is given.
const userPlaybookDir = "playbooks"

func newValidateCmd() *cobra.Command {
	var format, dir string
	var strict bool
	c := &cobra.Command{
		Use:   "validate [PATH...]",
		Short: "Compile playbooks and report every problem with file:line:col (default: the bundled library plus ./playbooks)",
		Long: `Compiles each playbook file (a directory gives its *.yaml files) and reports every error and
warning at once, with the source line, a caret, what was expected and the nearest valid name.
With no paths it checks the bundled library and, when it exists, ./playbooks, and says which
user playbooks override bundled ones. --format json prints machine-readable results;
--format github prints GitHub Actions annotations. Exit code 1 when any playbook has errors,
or, with --strict, warnings (drills fail a playbook that changes systems and verifies nothing).`,
		Example: `  firebreak playbook validate
  firebreak playbook validate my-playbooks/ --format github`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" && format != "github" {
				return usagef("--format: expected text, json or github, found %q", format)
			}
			sources, err := playbooks.BundledSources()
			if err != nil {
				return err
			}
			paths := args
			if dir != "" {
				paths = append(paths, dir)
			}
			if len(args) == 0 && dir == "" {
				// The default directory counts only when it holds playbooks (from the repository's
				// root, ./playbooks is the Go package); a path given is checked strictly.
				if st, err := os.Stat(userPlaybookDir); err == nil && st.IsDir() {
					if _, err := playbooks.PlaybookFiles(userPlaybookDir); err == nil {
						paths = []string{userPlaybookDir}
					}
				}
			}
			if len(args) > 0 {
				sources = nil // explicit paths: just those files (bundled ones still resolve overrides below)
			}
			user, err := playbooks.ReadSources(paths...)
			if err != nil {
				return usagef("%v", err)
			}
			if len(args) > 0 {
				bundled, _ := playbooks.BundledSources()
				results := playbooks.Validate(append(bundled, user...))
				return printValidation(cmd.OutOrStdout(), format, strictly(strict, results[len(bundled):]))
			}
			return printValidation(cmd.OutOrStdout(), format, strictly(strict, playbooks.Validate(append(sources, user...))))
		},
	}
	c.Flags().StringVar(&format, "format", "text", "output format: text, json or github")
	playbooksFlag(c, &dir, "also validate this playbook file or every playbook in this directory")
	c.Flags().BoolVar(&strict, "strict", false, "treat warnings as errors (exit 1)")
	return c
}

// strictly fails, when strict, every result that has warnings.
func strictly(strict bool, results []playbooks.Result) []playbooks.Result {
	if !strict {
		return results
	}
	for i := range results {
		for _, d := range results[i].Diagnostics {
			if d.Severity == playbooks.SeverityWarning {
				results[i].OK = false
			}
		}
	}
	return results
}

func printValidation(out io.Writer, format string, results []playbooks.Result) error {
	failed := false
	for _, r := range results {
		failed = failed || !r.OK
	}
	switch format {
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"ok": !failed, "playbooks": results}); err != nil {
			return err
		}
	case "github":
		for _, r := range results {
			for _, d := range r.Diagnostics {
				msg := d.Message
				if d.Suggestion != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", d.Suggestion)
				}
				fmt.Fprintf(out, "::%s file=%s,line=%d,col=%d,title=firebreak playbook::%s\n", d.Severity, d.File, d.Line, d.Col, githubEscape(msg))
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
	if failed {
		return errCheckFailed
	}
	return nil
}

// githubEscape escapes a workflow-command message as GitHub Actions expects.
func githubEscape(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// playbooksFlagUsage describes --playbooks, the one flag for extra playbooks on every command.
const playbooksFlagUsage = "a playbook file, or a directory of playbooks (*.yaml), that override bundled ones of the same name"

// playbooksFlag adds --playbooks and, for the playbook commands that called it --dir, the old
// name as a deprecated alias.
func playbooksFlag(c *cobra.Command, dir *string, usage string) {
	c.Flags().StringVar(dir, "playbooks", "", usage)
	c.Flags().StringVar(dir, "dir", "", usage)
	_ = c.Flags().MarkDeprecated("dir", "use --playbooks")
}

// loadPlan finds a playbook by name in the bundled library overridden by dir, or compiles the
// playbook file ref names.
func loadPlan(ref, dir string) (*playbooks.Plan, error) {
	lib, err := playbooks.LoadLibrary(dir)
	if err != nil {
		return nil, err
	}
	p, err := lib.Resolve(ref)
	if err != nil {
		return nil, usageError{err}
	}
	return p, nil
}

func newGraphCmd() *cobra.Command {
	var format, dir string
	c := &cobra.Command{
		Use:   "graph NAME|FILE",
		Short: "Print a playbook's step graph as Mermaid or Graphviz DOT",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadPlan(args[0], dir)
			if err != nil {
				return err
			}
			switch format {
			case "mermaid":
				fmt.Fprint(cmd.OutOrStdout(), p.Mermaid())
			case "dot":
				fmt.Fprint(cmd.OutOrStdout(), p.DOT())
			default:
				return usagef("--format: expected mermaid or dot, found %q", format)
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "mermaid", "mermaid or dot")
	playbooksFlag(c, &dir, playbooksFlagUsage)
	return c
}

func newExplainCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "explain NAME|FILE",
		Short: "Print a one-page Markdown quick reference: roles, steps, escalation, communication templates",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadPlan(args[0], dir)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), p.Explain())
			return nil
		},
	}
	playbooksFlag(c, &dir, playbooksFlagUsage)
	return c
}

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the playbook JSON Schema (for yaml-language-server: # yaml-language-server: $schema=...)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := playbooks.JSONSchema()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(b))
			return err
		},
	}
}

func newActionsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "actions",
		Short: "List the action catalog: each action's arguments and outputs, and which cannot be undone",
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			cat := playbooks.Catalog()
			if asJSON {
				// Durations as Go duration strings ("30s"), like the playbook language.
				type actionJSON struct {
					playbooks.Action
					Timeout playbooks.Duration `json:"timeout"`
				}
				list := make([]actionJSON, len(cat))
				for i, a := range cat {
					list[i] = actionJSON{Action: a, Timeout: playbooks.Duration(a.Timeout)}
				}
				return writeJSONOut(out, list)
			}
			for _, a := range cat {
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
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the catalog as JSON")
	return cmd
}

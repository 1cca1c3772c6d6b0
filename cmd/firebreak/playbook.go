package main

import (
	"fmt"

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
			results, err := playbooks.ValidatePaths(args, dir, userPlaybookDir, strict)
			if err != nil {
				return usagef("%v", err)
			}
			failed, err := playbooks.WriteResults(cmd.OutOrStdout(), format, results)
			if err == nil && failed {
				err = errCheckFailed
			}
			return err
		},
	}
	c.Flags().StringVar(&format, "format", "text", "output format: text, json or github")
	playbooksFlag(c, &dir, "also validate this playbook file or every playbook in this directory")
	c.Flags().BoolVar(&strict, "strict", false, "treat warnings as errors (exit 1)")
	return c
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
			if asJSON {
				return writeJSONOut(cmd.OutOrStdout(), playbooks.CatalogJSON())
			}
			playbooks.WriteCatalog(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the catalog as JSON")
	return cmd
}

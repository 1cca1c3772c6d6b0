package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/playbooks"
)

func newPlaybookCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "playbook", Short: "Validate and inspect playbooks"}
	var dir string
	validate := &cobra.Command{
		Use:   "validate [FILE...]",
		Short: "Compile playbooks and report every problem with file:line:col (default: the bundled library)",
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if len(args) == 0 {
				lib, err := playbooks.LoadLibrary(dir)
				if err != nil {
					fmt.Fprintln(out, renderCompileErrors(err))
					return errCheckFailed
				}
				for _, n := range lib.Names() {
					fmt.Fprintf(out, "ok  %s\n", n)
				}
				return nil
			}
			failed := false
			for _, f := range args {
				src, err := os.ReadFile(f)
				if err != nil {
					return usagef("%v", err)
				}
				p, err := playbooks.Compile(f, src)
				if err != nil {
					fmt.Fprintln(out, renderCompileErrors(err))
					failed = true
					continue
				}
				fmt.Fprintf(out, "ok  %s (%s, %d steps)\n", p.Name, filepath.Base(f), len(p.Steps))
			}
			if failed {
				return errCheckFailed
			}
			return nil
		},
	}
	validate.Flags().StringVar(&dir, "dir", "", "also load every playbook in this directory")
	cmd.AddCommand(validate)
	return cmd
}

func renderCompileErrors(err error) string {
	var parts []string
	for _, e := range unwrapAll(err) {
		var ce *playbooks.CompileError
		if errors.As(e, &ce) {
			parts = append(parts, ce.Render())
		} else {
			parts = append(parts, e.Error())
		}
	}
	return strings.Join(parts, "\n")
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func newActionsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "actions",
		Short: "List the action catalog: each action's arguments and outputs",
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			cat := playbooks.Catalog()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(cat)
			}
			for _, a := range cat {
				flags := ""
				if a.Destructive {
					flags += " [destructive]"
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

// Command firebreak runs credential-compromise response playbooks as durable Temporal
// workflows, drills them against a sandbox, and serves the endpoints that trigger them.
// It is the only place that reads flags and the environment.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/workflows"
)

// Exit codes: 0 ok, 1 a check failed (a drill did not pass, a playbook did not validate),
// 2 bad usage (unknown command, flag, playbook or input).
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// usageError marks an error as the caller's mistake (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// errCheckFailed is returned when the command ran but what it checked did not pass; the
// command has already printed why.
var errCheckFailed = errors.New("check failed")

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errCheckFailed):
		return exitFailed
	}
	fmt.Fprintln(stderr, "firebreak:", err)
	var ue usageError
	// cobra reports an unknown subcommand with an untyped error; it is bad usage all the same.
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command ") {
		return exitUsage
	}
	return exitFailed
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "firebreak",
		Short: "Contain compromised developer credentials with durable, drilled playbooks",
		Long: `firebreak runs credential-compromise response playbooks (YAML) as durable Temporal
workflows: snapshot evidence, revoke Vault tokens, deactivate AWS IAM keys, rotate secrets,
verify, and report in Slack and PagerDuty. Drills run the same workflows against a sandbox.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newDrillCmd(), newDevCmd(), newPlaybookCmd(), newActionsCmd(), newWorkerCmd(), newRunCmd(), newAuditCmd(), newActionCmd(), newDoctorCmd(), newCodecServerCmd())
	root.AddCommand(newServeCmd(), newSlackCmd(), newDecideCmd(workflows.DecisionApprove), newDecideCmd(workflows.DecisionDeny))
	wireConfig(root) // --config (firebreak.yaml), `firebreak config`, loaded before each command
	// Unknown subcommands are usage errors too.
	for _, c := range root.Commands() {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	}
	return root
}

// Command firebreak runs credential-compromise response playbooks as durable Temporal
// workflows, drills them against a sandbox, and serves the endpoints that trigger them.
// It is the only place that reads flags and the environment.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/config"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/workflows"
)

// Exit codes: 0 ok, 1 a check failed (a drill did not pass, a playbook did not validate),
// 2 bad usage (unknown command, flag, playbook or input).
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// usageError marks an error as the caller's mistake (exit code 2); so does config.UsageError,
// which packages return for a bad setting.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// errCheckFailed is returned when the command ran but what it checked did not pass; the
// command has already printed why.
var errCheckFailed = errors.New("check failed")

func main() {
	// Ctrl-C or SIGTERM cancels the command's context: commands that wait for a run stop
	// waiting and say what becomes of it (a drill cancels its run, whose worker it is).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runContext(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errCheckFailed):
		return exitFailed
	}
	fmt.Fprintln(stderr, "firebreak:", err)
	var ue usageError
	// cobra reports an unknown subcommand with an untyped error; it is bad usage all the same.
	if errors.As(err, &ue) || errors.As(err, new(config.UsageError)) || errors.Is(err, playbooks.ErrPath) || strings.HasPrefix(err.Error(), "unknown command ") {
		if cmd == nil {
			cmd = root
		}
		fmt.Fprintf(stderr, "usage: %s\nRun '%s --help' for more.\n", cmd.UseLine(), cmd.CommandPath())
		return exitUsage
	}
	return exitFailed
}

// harden makes every command of the tree answer bad usage with exit code 2: a command group
// given no subcommand or an unknown one (cobra would print its help and exit 0, so a typo
// such as `audit verfy` passed a script), and missing or extra arguments on any command
// (derived from the Use line when the command declares no Args).
func harden(c *cobra.Command) {
	for _, sub := range c.Commands() {
		harden(sub)
	}
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = cobra.ArbitraryArgs
		c.SuggestionsMinimumDistance = 2
		c.RunE = func(cmd *cobra.Command, args []string) error {
			var names []string
			for _, s := range cmd.Commands() {
				if s.IsAvailableCommand() {
					names = append(names, s.Name())
				}
			}
			if len(args) == 0 {
				return usagef("%s needs a subcommand: one of %s", cmd.CommandPath(), strings.Join(names, ", "))
			}
			hint := ""
			if sugg := cmd.SuggestionsFor(args[0]); len(sugg) > 0 {
				hint = fmt.Sprintf(" (did you mean %q?)", sugg[0])
			}
			return usagef("unknown command %q for %q%s; expected one of %s", args[0], cmd.CommandPath(), hint, strings.Join(names, ", "))
		}
		return
	}
	if !c.Runnable() {
		return
	}
	if c.Args == nil {
		c.Args = argsFromUse(c.Use)
	}
	validate := c.Args
	c.Args = func(cmd *cobra.Command, args []string) error {
		if err := validate(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// argsFromUse reads how many positional arguments a command takes from its Use line:
// "NAME" is required, "[NAME]" optional, "..." any number more; bracketed flags
// ("[--run-id RUN_ID]") are not arguments, and "A | --flag B" offers alternatives.
func argsFromUse(use string) cobra.PositionalArgs {
	_, rest, _ := strings.Cut(use, " ")
	minArgs, maxArgs, variadic, alternatives := 0, 0, false, false
	depth, flagGroup, flagValue := 0, false, false
	for _, tok := range strings.Fields(rest) {
		if tok == "|" {
			alternatives = true
			continue
		}
		if flagValue { // the value of a flag written outside brackets: "--history FILE"
			flagValue = false
			continue
		}
		open := strings.HasPrefix(tok, "[")
		if open && depth == 0 {
			flagGroup = strings.HasPrefix(strings.TrimLeft(tok, "["), "-")
		}
		depth += strings.Count(tok, "[") - strings.Count(tok, "]")
		word := strings.Trim(tok, "[]")
		switch {
		case strings.Contains(tok, "..."):
			if !flagGroup {
				variadic = true
			}
		case flagGroup:
		case strings.HasPrefix(word, "-"):
			flagValue = depth == 0 && !open
		case open || depth > 0 || strings.HasSuffix(tok, "]"):
			maxArgs++
		default:
			minArgs++
			maxArgs++
		}
		if depth == 0 {
			flagGroup = false
		}
	}
	if alternatives {
		minArgs = 0
	}
	switch {
	case variadic:
		return cobra.MinimumNArgs(minArgs)
	default:
		return cobra.RangeArgs(minArgs, maxArgs)
	}
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
	root.AddCommand(newDrillCmd(), newDevCmd(), newPlaybookCmd(), newActionsCmd(), newWorkerCmd(), newRunCmd(), newAuditCmd(), newActionCmd(), newDoctorCmd(), newCodecServerCmd(), newStatusCmd())
	root.AddCommand(newServeCmd(), newSlackCmd(), newDecideCmd(workflows.DecisionApprove), newDecideCmd(workflows.DecisionDeny))
	wireConfig(root) // --config (firebreak.yaml), `firebreak config`, loaded before each command
	// Unknown subcommands are usage errors too.
	for _, c := range root.Commands() {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	}
	harden(root)
	return root
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/secretscan"
	"github.com/firebreak-dev/firebreak/testenv"
)

func newDrillCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "drill", Short: "Run playbooks as drills against the sandbox"}
	cmd.AddCommand(newDrillRunCmd(), newDrillScheduleCmd(), newDrillHistoryCmd(), newDrillReplayCmd())
	for _, c := range cmd.Commands() {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	}
	return cmd
}

// drillFlags are the flags of `drill run` and `drill replay`: the engine's settings and the
// command's own.
type drillFlags struct {
	drills.Settings
	inputs       []string
	asJSON       bool
	playbookDir  string
	evidenceDir  string
	verboseLevel string
	markdownFile string
	htmlFile     string
	slackThread  bool
}

func newDrillRunCmd() *cobra.Command {
	var f drillFlags
	cmd := &cobra.Command{
		Use:   "run [PLAYBOOK|FILE...] [--all]",
		Short: "Run playbooks on the drill task queue against the in-process sandbox and print a scorecard",
		Long: `Runs each named playbook (or every one with --all) exactly as production would — the same
compiled Plan, the same interpreter workflow — on the drill task queue, whose worker is bound
only to the loopback sandbox. With TEMPORAL_ADDRESS unset an embedded Temporal server is
started for the drill. Exit code 0 only when every verification and expectation passed.`,
		Example: `  firebreak drill run compromised-dev-key
  firebreak drill run --all --json
  firebreak drill run compromised-dev-key --input subject=bob --input reason="tabletop"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTimeout(f.Timeout); err != nil {
				return err
			}
			f.AutoApproveSet = cmd.Flags().Changed("auto-approve")
			return runDrills(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args, f)
		},
	}
	cmd.Flags().BoolVar(&f.All, "all", false, "drill every playbook in the library")
	cmd.Flags().StringArrayVar(&f.inputs, "input", nil, "playbook input as key=value (repeatable); subject defaults to alice, a sandbox developer")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the scorecards as JSON")
	cmd.Flags().StringVar(&f.playbookDir, "playbooks", "", playbooksFlagUsage)
	cmd.Flags().StringVar(&f.evidenceDir, "evidence-dir", "", "where drill evidence is written (default: a new temporary directory)")
	cmd.Flags().BoolVar(&f.NoPagerDuty, "no-pagerduty", false, "do not report on the sandbox PagerDuty incident")
	cmd.Flags().DurationVar(&f.Timeout, "timeout", 5*time.Minute, "stop waiting for a drill after this long, and cancel its run (its worker is this command); 0: no bound")
	cmd.Flags().StringVar(&f.verboseLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error")
	cmd.Flags().StringArrayVar(&f.Inject, "inject", nil, "inject a fault into the drill (repeatable): "+strings.Join(drills.FaultKinds(), ", ")+"; KIND=PARAM sets its duration or count, e.g. vault-down=3s, iam-throttle=6")
	cmd.Flags().StringVar(&f.markdownFile, "markdown", "", "also write the scorecards as Markdown to this file")
	cmd.Flags().StringVar(&f.htmlFile, "html", "", "also write the scorecards as one self-contained HTML page to this file")
	cmd.Flags().BoolVar(&f.slackThread, "slack-thread", false, "after each scorecard, print what the sandbox Slack channel received, as a responder reads it (redacted); --json always carries it as slack_thread")
	cmd.Flags().BoolVar(&f.AutoApprove, "auto-approve", false, "grant approvals and manual steps at once (unattended); default: true with --all or on the embedded server, false (tabletop: wait for participants in Slack) for named playbooks on a shared server")
	return cmd
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, usagef("--log-level: expected debug, info, warn or error, found %q", s)
	}
	return l, nil
}

func runDrills(ctx context.Context, stdout, stderr io.Writer, names []string, f drillFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	level, err := parseLevel(f.verboseLevel)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	lib, err := playbooks.LoadLibrary(f.playbookDir)
	if err != nil {
		return err
	}
	raw, err := parseKV(f.inputs)
	if err != nil {
		return err
	}
	if err := drills.CheckFaults(f.Inject); err != nil {
		return usageError{err}
	}
	jobs, err := drills.Jobs(lib, names, f.All, raw)
	if err != nil {
		return usageError{err}
	}

	evDir, err := drills.EvidenceDir(f.evidenceDir, "drill")
	if err != nil {
		return err
	}
	rg, err := startRig(ctx, logger, evDir, stderr)
	if err != nil {
		return err
	}
	defer rg.Close()

	var cards []drills.Scorecard
	for _, j := range jobs {
		card := rg.Drill(ctx, j.Plan, j.Inputs, f.Settings)
		redactThread(card.SlackThread)
		cards = append(cards, card)
		if !f.asJSON {
			drills.PrintScorecard(stdout, card)
			if f.slackThread {
				drills.PrintSlackThread(stdout, testenv.DrillChannel, card.SlackThread)
			}
		}
	}
	if err := drills.WriteScorecardFiles(cards, f.markdownFile, f.htmlFile); err != nil {
		return err
	}
	if f.asJSON {
		if err := writeJSONOut(stdout, map[string]any{"drills": cards, "evidence_dir": evDir}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "Evidence: %s\n", rg.EvidencePath())
	}
	for _, c := range cards {
		if !c.Passed {
			return errCheckFailed
		}
	}
	return nil
}

// redactThread redacts anything that looks like a credential in a drill's Slack thread
// before it is printed or written: firebreak redacts before sending, and shows nothing it
// would not send.
func redactThread(msgs []drills.ThreadMessage) {
	for i := range msgs {
		msgs[i].Text = secretscan.Redact(msgs[i].Text)
	}
}

func parseKV(items []string) (map[string]string, error) {
	out := map[string]string{}
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		if !ok || k == "" {
			return nil, usagef("--input %q: expected key=value", it)
		}
		out[k] = v
	}
	return out, nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// drillRig is a drill rig on a Temporal connection of this command's, which it closes.
type drillRig struct {
	*drills.Rig
	conn *temporalConn
}

// startRig connects to Temporal (TEMPORAL_ADDRESS, or an embedded server) and starts a drill
// rig on it; out (nil: nowhere) is told of drills stopped and decisions a tabletop waits for.
func startRig(ctx context.Context, logger *slog.Logger, evidenceDir string, out io.Writer) (*drillRig, error) {
	conn, err := dialTemporal(ctx, settingsFrom(ctx), logger)
	if err != nil {
		return nil, err
	}
	rg, err := drills.Start(ctx, drills.Config{
		Client: conn.Client, Runs: conn.Runs, Embedded: conn.Embedded,
		EvidenceDir: evidenceDir, Logger: logger, User: currentUser(), Out: out, Redact: secretscan.Redact,
	})
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &drillRig{Rig: rg, conn: conn}, nil
}

// Close stops the rig and closes its connection (stopping an embedded server).
func (r *drillRig) Close() {
	r.Rig.Close()
	r.conn.Close()
}

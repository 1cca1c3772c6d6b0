package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

func newDrillCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "drill", Short: "Run playbooks as drills against the sandbox"}
	cmd.AddCommand(newDrillRunCmd())
	return cmd
}

type drillFlags struct {
	all          bool
	inputs       []string
	asJSON       bool
	playbookDir  string
	evidenceDir  string
	noPagerDuty  bool
	timeout      time.Duration
	verboseLevel string
}

func newDrillRunCmd() *cobra.Command {
	var f drillFlags
	cmd := &cobra.Command{
		Use:   "run [PLAYBOOK...] [--all]",
		Short: "Run playbooks on the drill task queue against the in-process sandbox and print a scorecard",
		Long: `Runs each named playbook (or every one with --all) exactly as production would — the same
compiled Plan, the same interpreter workflow — on the drill task queue, whose worker is bound
only to the loopback sandbox. With TEMPORAL_ADDRESS unset an embedded Temporal server is
started for the drill. Exit code 0 only when every verification and expectation passed.`,
		Example: `  firebreak drill run compromised-dev-key
  firebreak drill run --all --json
  firebreak drill run compromised-dev-key --input subject=bob --input reason="tabletop"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDrills(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args, f)
		},
	}
	cmd.Flags().BoolVar(&f.all, "all", false, "drill every playbook in the library")
	cmd.Flags().StringArrayVar(&f.inputs, "input", nil, "playbook input as key=value (repeatable); subject defaults to alice, a sandbox developer")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the scorecards as JSON")
	cmd.Flags().StringVar(&f.playbookDir, "playbooks", "", "directory of extra playbooks (*.yaml) that override bundled ones of the same name")
	cmd.Flags().StringVar(&f.evidenceDir, "evidence-dir", "", "where drill evidence is written (default: a new temporary directory)")
	cmd.Flags().BoolVar(&f.noPagerDuty, "no-pagerduty", false, "do not report on the sandbox PagerDuty incident")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 5*time.Minute, "give up on a drill after this long")
	cmd.Flags().StringVar(&f.verboseLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error")
	return cmd
}

// Scorecard is what a drill reports: the run's record plus the sandbox-side checks.
type Scorecard struct {
	workflows.RunResult
	Passed       bool          `json:"passed"`
	LeakChecks   []LeakCheck   `json:"leak_checks"`
	FailureCause string        `json:"failure_cause,omitempty"`
	Elapsed      time.Duration `json:"elapsed_ns"`
}

// LeakCheck is the result of scanning one artefact of a drill for the sandbox's canary secrets.
type LeakCheck struct {
	Artefact string `json:"artefact"`
	Scanned  int    `json:"scanned"`
	Leaks    int    `json:"leaks"`
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
	if f.all {
		if len(names) > 0 {
			return usagef("give playbook names or --all, not both")
		}
		names = lib.Names()
	}
	if len(names) == 0 {
		return usagef("which playbook? give a name (known: %s) or --all", strings.Join(lib.Names(), ", "))
	}
	raw, err := parseKV(f.inputs)
	if err != nil {
		return err
	}
	type job struct {
		plan   *playbooks.Plan
		inputs map[string]any
	}
	var jobs []job
	for _, n := range names {
		p, err := lib.Get(n)
		if err != nil {
			return usageError{err}
		}
		in := map[string]string{}
		for k, v := range raw {
			in[k] = v
		}
		if _, ok := in["subject"]; !ok && hasInput(p, "subject") {
			in["subject"] = "alice"
		}
		bound, err := p.BindInputs(in)
		if err != nil {
			return usageError{fmt.Errorf("playbook %s: %w", n, err)}
		}
		jobs = append(jobs, job{p, bound})
	}

	evDir := f.evidenceDir
	if evDir == "" {
		if evDir, err = os.MkdirTemp("", "firebreak-drill-evidence-"); err != nil {
			return err
		}
	}
	rg, err := startRig(ctx, logger, evDir)
	if err != nil {
		return err
	}
	defer rg.Close()

	var cards []Scorecard
	for _, j := range jobs {
		card := rg.drill(ctx, j.plan, j.inputs, f)
		cards = append(cards, card)
		if !f.asJSON {
			printScorecard(stdout, card)
		}
	}
	if f.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"drills": cards, "evidence_dir": evDir}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "Evidence: %s\n", rg.store.Path())
	}
	for _, c := range cards {
		if !c.Passed {
			return errCheckFailed
		}
	}
	return nil
}

func hasInput(p *playbooks.Plan, name string) bool {
	for _, in := range p.Inputs {
		if in.Name == name {
			return true
		}
	}
	return false
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

// rig is what a drill runs on: the sandbox, a Temporal connection, and a worker on a drill
// task queue bound only to the sandbox.
type rig struct {
	sb    *testenv.Sandbox
	conn  *temporalConn
	w     worker.Worker
	queue string
	store *evidence.FileStore
}

func startRig(ctx context.Context, logger *slog.Logger, evidenceDir string) (*rig, error) {
	store, err := evidence.OpenFileStore(evidenceDir)
	if err != nil {
		return nil, err
	}
	conn, err := connectTemporal(ctx, logger)
	if err != nil {
		return nil, err
	}
	r := &rig{sb: testenv.NewSandbox(nil), conn: conn, store: store, queue: workflows.DrillTaskQueue}
	// Attached to a shared server, this process serves a task queue of its own, so its drills
	// run against its own sandbox and no other worker's.
	if !conn.Embedded {
		host, _ := os.Hostname()
		r.queue = fmt.Sprintf("%s/%s-%d", workflows.DrillTaskQueue, host, os.Getpid())
	}
	r.w = worker.New(conn.Client, r.queue, worker.Options{})
	workflows.Register(r.w)
	if err := r.sb.Register(r.w, store); err != nil {
		r.Close()
		return nil, err
	}
	if err := r.w.Start(); err != nil {
		r.w = nil
		r.Close()
		return nil, fmt.Errorf("starting the drill worker: %w", err)
	}
	return r, nil
}

func (r *rig) Close() {
	if r.w != nil {
		r.w.Stop()
	}
	r.conn.Close()
	r.sb.Close()
}

// drill runs one playbook as a drill and returns its scorecard.
func (r *rig) drill(ctx context.Context, p *playbooks.Plan, inputs map[string]any, f drillFlags) Scorecard {
	c, sb, queue := r.conn.Client, r.sb, r.queue
	sb.Recorder.Reset()
	start := time.Now()
	subject, _ := inputs["subject"].(string)
	nonce := start.UTC().Format("20060102T150405.000")
	rep := workflows.Report{SlackChannel: testenv.DrillChannel}
	if !f.noPagerDuty {
		rep.PagerDutyIncident = testenv.DrillIncident
	}
	in := workflows.RunInput{
		Plan: *p, Inputs: inputs, Drill: true, Report: rep,
		Trigger: workflows.Trigger{Kind: "drill", By: currentUser(), Reason: "firebreak drill run", At: start.UTC()},
	}
	card := Scorecard{}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.DrillWorkflowID(p.Name, subject, nonce), TaskQueue: queue,
		WorkflowExecutionTimeout: f.timeout,
	}, workflows.Run, in)
	if err == nil {
		err = run.Get(ctx, &card.RunResult)
	}
	if err != nil {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == workflows.ErrRunFailed && appErr.HasDetails() {
			_ = appErr.Details(&card.RunResult)
		}
		card.FailureCause = err.Error()
		if card.WorkflowID == "" {
			card.Playbook, card.Subject, card.Drill = p.Name, subject, true
			if run != nil {
				card.WorkflowID, card.RunID = run.GetID(), run.GetRunID()
			}
		}
	}
	card.LeakChecks = leakChecks(ctx, r.conn, sb, card.WorkflowID, card.RunID)
	card.Elapsed = time.Since(start)
	card.Passed = err == nil && card.Outcome == workflows.OutcomeContained
	for _, lc := range card.LeakChecks {
		if lc.Leaks > 0 {
			card.Passed = false
		}
	}
	return card
}

// leakChecks scans what left the workflow — its history, and every message sent to Slack and
// PagerDuty — for the sandbox's canary secrets.
func leakChecks(ctx context.Context, conn *temporalConn, sb *testenv.Sandbox, wfID, runID string) []LeakCheck {
	var out []LeakCheck
	// firebreak's own credential for each service is meant to reach that service; everything
	// else in the request is content and must be free of secrets.
	ownToken := map[string]string{"slack": sb.Slack.BotToken(), "pagerduty": sb.PagerDuty.Token()}
	for _, svc := range []string{"slack", "pagerduty"} {
		lc := LeakCheck{Artefact: svc + " requests"}
		for _, call := range sb.Recorder.Calls(svc) {
			lc.Scanned++
			body := strings.ReplaceAll(call.Body, ownToken[svc], "")
			body = strings.ReplaceAll(body, url.QueryEscape(ownToken[svc]), "")
			if testenv.ContainsCanary(body) {
				lc.Leaks++
			}
		}
		out = append(out, lc)
	}
	if wfID != "" {
		lc := LeakCheck{Artefact: "workflow history events (decrypted)"}
		events, err := conn.DecodeEvents(ctx, wfID, runID)
		if err != nil {
			lc.Leaks++ // unreadable history cannot be vouched for
		}
		for _, ev := range events {
			lc.Scanned++
			if testenv.ContainsCanary(ev.String()) {
				lc.Leaks++
			}
		}
		out = append(out, lc)
	}
	return out
}

func printScorecard(w io.Writer, c Scorecard) {
	verdict := "PASS"
	if !c.Passed {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "\nDRILL %s — %s  subject=%s\n", c.Playbook, verdict, orDash(c.Subject))
	fmt.Fprintf(w, "  run %s\n\n", c.WorkflowID)
	fmt.Fprintf(w, "  %-4s %-24s %-26s %9s\n", "", "STEP", "ACTION", "DURATION")
	for _, s := range c.Steps {
		dur := "-"
		if s.Status == workflows.StatusSucceeded || s.Status == workflows.StatusFailed {
			dur = fmt.Sprintf("%d ms", s.DurationMS)
		}
		fmt.Fprintf(w, "  %-4s %-24s %-26s %9s", statusMark(s.Status), s.ID, s.Action, dur)
		switch s.Status {
		case workflows.StatusFailed:
			fmt.Fprintf(w, "  %s", s.Error)
		case workflows.StatusSkipped:
			fmt.Fprintf(w, "  skipped: %s", s.SkipReason)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	if c.TimeToContainMS > 0 || c.Outcome == workflows.OutcomeContained {
		fmt.Fprintf(w, "  Time to contain: %d ms (trigger → last containment step)\n", c.TimeToContainMS)
	} else {
		fmt.Fprintf(w, "  Time to contain: not contained\n")
	}
	if len(c.Verifications) > 0 {
		fmt.Fprintln(w, "  Verifications:")
		for _, v := range c.Verifications {
			fmt.Fprintf(w, "    %s %s: %s %s\n", checkMark(v.Passed), v.Step, v.Name, detail(v.Detail))
		}
	}
	if len(c.Expectations) > 0 {
		fmt.Fprintln(w, "  Expectations:")
		for _, e := range c.Expectations {
			fmt.Fprintf(w, "    %s %s %s\n", checkMark(e.Passed), e.Name, detail(e.Detail))
		}
	}
	fmt.Fprintln(w, "  Secrets leaked:")
	for _, lc := range c.LeakChecks {
		fmt.Fprintf(w, "    %s %d canary hits in %d %s\n", checkMark(lc.Leaks == 0), lc.Leaks, lc.Scanned, lc.Artefact)
	}
	if len(c.ReportErrors) > 0 {
		fmt.Fprintln(w, "  Reporting delays/errors (containment was not held up):")
		for _, e := range c.ReportErrors {
			fmt.Fprintf(w, "    - %s\n", e)
		}
	}
	if c.FailureCause != "" {
		fmt.Fprintf(w, "  Failure: %s\n", c.FailureCause)
	}
	fmt.Fprintf(w, "  Result: %s in %s\n", verdict, c.Elapsed.Round(time.Millisecond))
}

func statusMark(s string) string {
	switch s {
	case workflows.StatusSucceeded:
		return "ok"
	case workflows.StatusFailed:
		return "FAIL"
	case workflows.StatusSkipped:
		return "skip"
	}
	return s
}

func checkMark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

func detail(s string) string {
	if s == "" {
		return ""
	}
	return "— " + s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

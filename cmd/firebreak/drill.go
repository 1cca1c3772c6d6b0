package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/user"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/audit"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

func newDrillCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "drill", Short: "Run playbooks as drills against the sandbox"}
	cmd.AddCommand(newDrillRunCmd(), newDrillScheduleCmd(), newDrillHistoryCmd(), newDrillReplayCmd())
	for _, c := range cmd.Commands() {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	}
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
	replayOf     string // a replay drills the pinned Plan of this recorded run
	verboseLevel string
	injects      []string
	markdownFile string
	htmlFile     string
	// autoApprove has the drill bot grant approvals, manual steps and escalations at once;
	// autoApproveSet says whether --auto-approve was given (else the default applies).
	autoApprove    bool
	autoApproveSet bool
}

// autoApproves decides whether a drill runs unattended. --auto-approve, when given, wins.
// Otherwise --all (a sweep nobody watches step by step) and drills on the embedded server
// (which no participant can reach) are unattended, and a named playbook drilled on a shared
// server (TEMPORAL_ADDRESS) is a tabletop: its approvals and manual steps wait for people,
// who answer in Slack (/firebreak approve RUN step=STEP, or the buttons) as in production.
func (f drillFlags) autoApproves(embedded bool) bool {
	if f.autoApproveSet {
		return f.autoApprove
	}
	return f.all || embedded
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
			if err := checkTimeout(f.timeout); err != nil {
				return err
			}
			f.autoApproveSet = cmd.Flags().Changed("auto-approve")
			return runDrills(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args, f)
		},
	}
	cmd.Flags().BoolVar(&f.all, "all", false, "drill every playbook in the library")
	cmd.Flags().StringArrayVar(&f.inputs, "input", nil, "playbook input as key=value (repeatable); subject defaults to alice, a sandbox developer")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the scorecards as JSON")
	cmd.Flags().StringVar(&f.playbookDir, "playbooks", "", playbooksFlagUsage)
	cmd.Flags().StringVar(&f.evidenceDir, "evidence-dir", "", "where drill evidence is written (default: a new temporary directory)")
	cmd.Flags().BoolVar(&f.noPagerDuty, "no-pagerduty", false, "do not report on the sandbox PagerDuty incident")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 5*time.Minute, "stop waiting for a drill after this long, and cancel its run (its worker is this command); 0: no bound")
	cmd.Flags().StringVar(&f.verboseLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error")
	cmd.Flags().StringArrayVar(&f.injects, "inject", nil, "inject a fault into the drill (repeatable): "+strings.Join(faultKinds(), ", ")+"; KIND=PARAM sets its duration or count, e.g. vault-down=3s, iam-throttle=6")
	cmd.Flags().StringVar(&f.markdownFile, "markdown", "", "also write the scorecards as Markdown to this file")
	cmd.Flags().StringVar(&f.htmlFile, "html", "", "also write the scorecards as one self-contained HTML page to this file")
	cmd.Flags().BoolVar(&f.autoApprove, "auto-approve", false, "grant approvals and manual steps at once (unattended); default: true with --all or on the embedded server, false (tabletop: wait for participants in Slack) for named playbooks on a shared server")
	return cmd
}

// Scorecard is what a drill reports: the run's record plus the sandbox-side checks.
type Scorecard struct {
	workflows.RunResult
	Passed       bool          `json:"passed"`
	LeakChecks   []LeakCheck   `json:"leak_checks"`
	FailureCause string        `json:"failure_cause,omitempty"`
	Elapsed      time.Duration `json:"elapsed_ns"`
	// Faults lists the faults injected into the drill and what each did.
	Faults []testenv.FaultReport `json:"faults,omitempty"`
	// Retries lists the activities that needed more than one attempt: how the run coped.
	Retries []ActivityAttempts `json:"retries,omitempty"`
	// UpstreamChecks ask the sandbox's database and rotation service whether each reported
	// rotation changed the credential where it is checked.
	UpstreamChecks []workflows.Check `json:"upstream_checks,omitempty"`
	// Verdict is PASS, FAIL or CONTAINED, REMEDIATION PENDING.
	Verdict string `json:"verdict"`
}

// ActivityAttempts is one activity of a run that was retried.
type ActivityAttempts struct {
	Activity    string `json:"activity"`
	Attempts    int32  `json:"attempts"`
	LastFailure string `json:"last_failure,omitempty"`
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
	if _, err := parseFaults(f.injects); err != nil {
		return err
	}
	type job struct {
		plan   *playbooks.Plan
		inputs map[string]any
	}
	var jobs []job
	for _, n := range names {
		p, err := lib.Resolve(n)
		if err != nil {
			return usageError{err}
		}
		// The playbook's drill schedule inputs are defaults.
		bound, err := p.BindInputs(runs.DrillInputs(p, p.DrillInputs(), raw))
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
	rg.out = stderr

	var cards []Scorecard
	for _, j := range jobs {
		card := rg.drill(ctx, j.plan, j.inputs, f)
		cards = append(cards, card)
		if !f.asJSON {
			printScorecard(stdout, card)
		}
	}
	if err := writeScorecardFiles(cards, f); err != nil {
		return err
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
	sb     *testenv.Sandbox
	conn   *temporalConn
	w      worker.Worker
	queue  string
	store  *evidence.FileStore
	logger *slog.Logger
	used   bool // a drill has run on this sandbox: reseed before the next
	gen    int  // how many workers this rig has started; part of each worker's identity
	// org, when set, seeds the sandbox of the next drill instead of the default organisation.
	org *testenv.Org

	hookMu sync.Mutex
	onSnap func() // called when an evidence snapshot activity has succeeded

	// announce tells tabletop participants about a decision the drill waits for; nil prints
	// it on the rig's output.
	announce func(wfID string, p workflows.PendingApproval)
	out      io.Writer
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
	r := &rig{sb: testenv.NewSandbox(nil), conn: conn, store: store, queue: workflows.DrillTaskQueue, logger: logger}
	// Attached to a shared server, this process serves a task queue of its own, so its drills
	// run against its own sandbox and no other worker's.
	if !conn.Embedded {
		host, _ := os.Hostname()
		r.queue = fmt.Sprintf("%s/%s-%d", workflows.DrillTaskQueue, host, os.Getpid())
	}
	if err := r.startWorker(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// startWorker starts a new drill worker bound to the rig's current sandbox.
func (r *rig) startWorker() error {
	r.gen++
	host, _ := os.Hostname()
	w := worker.New(r.conn.Client, r.queue, worker.Options{
		Identity: fmt.Sprintf("firebreak-drill@%s/%d/worker-%d", host, os.Getpid(), r.gen),
		// A stopped worker lets the activities it is running finish and report, as a worker
		// shut down by its orchestrator does; the sandbox answers in milliseconds.
		WorkerStopTimeout: 10 * time.Second,
		Interceptors:      []interceptor.WorkerInterceptor{&drillHooks{r: r}},
	})
	// A drill worker trusts the sandbox's decision key only (rule 5).
	workflows.Register(w, workflows.WithDecisionKeys(workflows.NewSigner(workflows.SandboxDecisionKey()).Public()))
	if err := r.sb.Register(w, r.store); err != nil {
		return err
	}
	if err := w.Start(); err != nil {
		return fmt.Errorf("starting the drill worker: %w", err)
	}
	r.w = w
	return nil
}

// stopWorker stops the drill worker, letting running activities finish.
func (r *rig) stopWorker() {
	if r.w != nil {
		r.w.Stop()
		r.w = nil
	}
}

// reseed replaces the sandbox with a freshly seeded one, so every drill starts from the same
// uncontained organisation, and binds a new worker to it.
func (r *rig) reseed() error {
	r.stopWorker()
	r.sb.Close()
	r.sb = testenv.NewSandbox(r.org)
	r.org = nil
	return r.startWorker()
}

func (r *rig) Close() {
	r.stopWorker()
	r.conn.Close()
	r.sb.Close()
}

func (r *rig) setSnapshotHook(f func()) {
	r.hookMu.Lock()
	r.onSnap = f
	r.hookMu.Unlock()
}

// drillHooks tells the rig when a run's evidence snapshot has been stored, which is when
// containment begins: the moment containment-phase faults strike.
type drillHooks struct {
	interceptor.WorkerInterceptorBase
	r *rig
}

func (h *drillHooks) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &drillActivityHook{r: h.r, ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}}
}

type drillActivityHook struct {
	interceptor.ActivityInboundInterceptorBase
	r *rig
}

func (a *drillActivityHook) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	out, err := a.Next.ExecuteActivity(ctx, in)
	if err == nil && activity.GetInfo(ctx).ActivityType.Name == evidence.ActivityPrefix+"Snapshot" {
		a.r.hookMu.Lock()
		f := a.r.onSnap
		a.r.hookMu.Unlock()
		if f != nil {
			f()
		}
	}
	return out, err
}

// drillFault is one parsed --inject: a sandbox fault or a worker crash.
type drillFault struct {
	sandbox   *testenv.Fault
	crash     bool
	crashDown time.Duration // how long the worker stays down
}

const faultWorkerCrash = "worker-crash"

// injectedKinds names the injected faults, for the run's memo: the audit record and the review
// tell them from real failures.
func injectedKinds(faults []drillFault) []string {
	kinds := []string{}
	for _, f := range faults {
		if f.crash {
			kinds = append(kinds, faultWorkerCrash)
		} else if f.sandbox != nil {
			kinds = append(kinds, f.sandbox.Kind)
		}
	}
	return kinds
}

func faultKinds() []string {
	return append(append([]string(nil), testenv.SandboxFaults...), faultWorkerCrash)
}

// parseFaults parses --inject values; a kind may be given once.
func parseFaults(items []string) ([]drillFault, error) {
	var out []drillFault
	seen := map[string]bool{}
	for _, it := range items {
		kind, param, hasParam := strings.Cut(it, "=")
		if seen[kind] {
			return nil, usagef("--inject %s: given twice; give each fault once", kind)
		}
		seen[kind] = true
		if kind == faultWorkerCrash {
			df := drillFault{crash: true, crashDown: 500 * time.Millisecond}
			if hasParam {
				d, err := time.ParseDuration(param)
				if err != nil || d < 0 {
					return nil, usagef("--inject %s: expected how long the worker stays down, such as 2s, after =, found %q", kind, param)
				}
				df.crashDown = d
			}
			out = append(out, df)
			continue
		}
		sf, err := testenv.ParseFault(it)
		if err != nil {
			if !slices.Contains(testenv.SandboxFaults, kind) {
				return nil, usagef("--inject: unknown fault %q: expected one of %s", kind, strings.Join(faultKinds(), ", "))
			}
			return nil, usagef("--inject: %v", err)
		}
		out = append(out, drillFault{sandbox: &sf})
	}
	return out, nil
}

// startPhase reports whether a sandbox fault is injected before the run starts; the others
// strike when containment begins (the evidence snapshot is stored).
func startPhase(f testenv.Fault) bool { return f.Kind != testenv.FaultVaultDown }

// faultRun is the fault machinery of one drill.
type faultRun struct {
	r      *rig
	faults []drillFault

	mu      sync.Mutex
	injs    []*testenv.Injection
	crashes []testenv.FaultReport
	errs    []string
	once    sync.Once     // the containment phase happens (or is called off) once
	done    chan struct{} // closed when the containment-phase work has finished
}

func newFaultRun(r *rig, faults []drillFault) *faultRun {
	return &faultRun{r: r, faults: faults, done: make(chan struct{})}
}

// arm injects the start-phase faults and hooks the containment-phase ones to the evidence
// snapshot. runCtx bounds the crash handling.
func (fr *faultRun) arm(runCtx context.Context, watch func() string) error {
	var atContainment []drillFault
	for _, f := range fr.faults {
		if f.sandbox != nil && startPhase(*f.sandbox) {
			inj, err := fr.r.sb.Inject(*f.sandbox)
			if err != nil {
				return err
			}
			fr.injs = append(fr.injs, inj)
			continue
		}
		atContainment = append(atContainment, f)
	}
	if len(atContainment) == 0 {
		fr.once.Do(func() { close(fr.done) })
		return nil
	}
	fr.r.setSnapshotHook(func() {
		fr.once.Do(func() {
			var crash *drillFault
			for _, f := range atContainment {
				if f.crash {
					crash = &f
					continue
				}
				// Installed inside the snapshot activity, before the workflow learns that it
				// may start changing things: the fault is in place for all of containment.
				inj, err := fr.r.sb.Inject(*f.sandbox)
				fr.mu.Lock()
				if err != nil {
					fr.errs = append(fr.errs, err.Error())
				} else {
					fr.injs = append(fr.injs, inj)
				}
				fr.mu.Unlock()
			}
			if crash == nil {
				close(fr.done)
				return
			}
			// The worker cannot be stopped from inside one of its own activities: crash it
			// from outside, once this activity has returned.
			go func() {
				defer close(fr.done)
				fr.crash(runCtx, *crash, watch)
			}()
		})
	})
	return nil
}

// crash stops the drill worker, keeps it down for a while, starts a new one, and measures
// when the run made progress again (the new worker answered a status query).
func (fr *faultRun) crash(ctx context.Context, f drillFault, watch func() string) {
	rep := testenv.FaultReport{Fault: fmt.Sprintf("%s=%s", faultWorkerCrash, f.crashDown), Service: "worker", InjectedAt: time.Now()}
	fr.r.stopWorker()
	rep.FirstHit = time.Now()
	if f.crashDown > 0 {
		t := time.NewTimer(f.crashDown)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	err := fr.r.startWorker()
	rep.ClearedAt, rep.LastHit = time.Now(), time.Now()
	if err != nil {
		fr.mu.Lock()
		fr.errs = append(fr.errs, "restarting the drill worker after the crash: "+err.Error())
		fr.crashes = append(fr.crashes, rep)
		fr.mu.Unlock()
		return
	}
	if msg := watch(); msg == "" {
		rep.RecoveredAt = time.Now()
		rep.DelayMS = rep.RecoveredAt.Sub(rep.InjectedAt).Milliseconds()
	} else {
		fr.mu.Lock()
		fr.errs = append(fr.errs, "after the worker crash the run did not answer: "+msg)
		fr.mu.Unlock()
	}
	fr.mu.Lock()
	fr.crashes = append(fr.crashes, rep)
	fr.mu.Unlock()
}

// clearWhenVerified brings a downed vendor (pagerduty-down, slack-down) back once every
// containment and verification step of the run has finished: the vendor stays down for the
// whole of containment, and the messages it missed wait in the run's outbox and are delivered
// (late, once each) when it returns. Keeping it down until the run ends would never end: the
// run stays open until its outboxes are empty.
func (fr *faultRun) clearWhenVerified(ctx context.Context, c client.Client, wfID string, p *playbooks.Plan) {
	var down []*testenv.Injection
	fr.mu.Lock()
	for _, inj := range fr.injs {
		if inj.Fault.Kind == testenv.FaultPagerDutyDown || inj.Fault.Kind == testenv.FaultSlackDown {
			down = append(down, inj)
		}
	}
	fr.mu.Unlock()
	if len(down) == 0 {
		return
	}
	defer func() {
		for _, inj := range down {
			inj.Clear()
		}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		res, err := queryStatus(ctx, c, wfID, 5*time.Second)
		if err != nil {
			continue // the run may not have started its first task yet
		}
		if res.Outcome != workflows.OutcomeRunning || containmentSettled(p, res) {
			return
		}
	}
}

func containmentSettled(p *playbooks.Plan, res workflows.RunResult) bool {
	for i, st := range p.Steps {
		if !(st.Contains || st.Verifies) || i >= len(res.Steps) {
			continue
		}
		switch res.Steps[i].Status {
		case workflows.StatusPending, workflows.StatusRunning:
			return false
		}
	}
	return true
}

func queryStatus(ctx context.Context, c client.Client, wfID string, timeout time.Duration) (workflows.RunResult, error) {
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return runs.New(c, nil).Status(qctx, wfID)
}

// finish clears every fault and reports what each did.
func (fr *faultRun) finish() []testenv.FaultReport {
	fr.r.setSnapshotHook(nil)
	// A run that never stored its evidence never reached containment: call the phase off.
	fr.once.Do(func() { close(fr.done) })
	<-fr.done
	fr.mu.Lock()
	defer fr.mu.Unlock()
	var out []testenv.FaultReport
	for _, inj := range fr.injs {
		inj.Clear()
		out = append(out, inj.Report())
	}
	return append(out, fr.crashes...)
}

// drill runs one playbook as a drill and returns its scorecard.
func (r *rig) drill(ctx context.Context, p *playbooks.Plan, inputs map[string]any, f drillFlags) Scorecard {
	card := Scorecard{}
	if r.used || r.org != nil {
		if err := r.reseed(); err != nil {
			card.Playbook, card.Drill, card.FailureCause = p.Name, true, "reseeding the sandbox: "+err.Error()
			return card
		}
	}
	r.used = true
	faults, err := parseFaults(f.injects)
	if err != nil {
		card.Playbook, card.Drill, card.FailureCause = p.Name, true, err.Error()
		return card
	}
	c, sb, queue := r.conn.Client, r.sb, r.queue
	for _, df := range faults {
		if df.sandbox != nil && df.sandbox.Kind == testenv.FaultBystanders {
			// The organisation's size, seeded before the trigger: not part of the drill's time.
			if _, err := sb.Inject(*df.sandbox); err != nil {
				card.Playbook, card.Drill, card.FailureCause = p.Name, true, "injecting faults: "+err.Error()
				return card
			}
		}
	}
	sb.Recorder.Reset()
	start := time.Now()
	subject, _ := inputs["subject"].(string)
	rep := workflows.Report{SlackChannel: testenv.DrillChannel}
	if !f.noPagerDuty {
		rep.PagerDutyIncident = testenv.DrillIncident
	}
	auto := f.autoApproves(r.conn.Embedded)
	run := runs.PrepareBound(p, inputs, runs.Request{
		Drill: true, Report: rep, AutoApprove: auto, Directory: sb.Org.Directory(),
		Trigger: workflows.Trigger{Kind: "drill", By: currentUser(), Reason: "firebreak drill run", At: start.UTC()},
	})
	parent := ctx
	var cancel context.CancelFunc
	if f.timeout > 0 {
		ctx, cancel = context.WithTimeout(parent, f.timeout)
	} else {
		ctx, cancel = context.WithCancel(parent)
	}
	defer cancel()
	wfID := run.ID
	fr := newFaultRun(r, faults)
	// After a crash the first query may wait for the server to give up on the dead worker's
	// sticky queue: that wait is part of the delay the crash causes, so allow the whole run.
	watch := func() string {
		if _, err := queryStatus(ctx, c, wfID, f.timeout); err != nil {
			return err.Error()
		}
		return ""
	}
	if err = fr.arm(ctx, watch); err != nil {
		card.Playbook, card.Drill, card.FailureCause = p.Name, true, "injecting faults: "+err.Error()
		card.Faults = fr.finish()
		return card
	}
	st, err := r.conn.Runs.StartOrJoin(ctx, run, runs.StartOptions{
		Queue: queue, Fresh: true,
		Memo: drillMemo(p.Name, injectedKinds(faults), f.replayOf),
	})
	recorded := false
	if err == nil {
		watchCtx, stopWatch := context.WithCancel(ctx)
		go fr.clearWhenVerified(watchCtx, c, wfID, p)
		watched := make(chan struct{})
		if !auto {
			go func() { defer close(watched); r.watchPending(watchCtx, c, wfID) }()
		} else {
			close(watched)
		}
		card.RunResult, recorded, err = r.conn.Runs.Wait(ctx, st)
		stopWatch()
		<-watched // nothing is announced after the drill has returned
	}
	if err != nil && !recorded && st.WorkflowID != "" && deadlineReached(ctx, err) {
		// The command stopped waiting: this process serves the drill's task queue, so the run
		// would be left with no worker. Cancel it and say so.
		why := "interrupted"
		if parent.Err() == nil {
			why = fmt.Sprintf("--timeout %s passed", f.timeout)
		}
		err = fmt.Errorf("%s; %s", why, r.cancelRun(st))
		if r.out != nil {
			fmt.Fprintf(r.out, "firebreak: drill %s: %v\n", st.WorkflowID, err)
		}
	}
	card.Faults = fr.finish()
	for _, e := range fr.errs {
		card.FailureCause = strings.TrimPrefix(card.FailureCause+"; "+e, "; ")
	}
	if err != nil {
		if !recorded { // a recorded failure says why itself: card.Error
			card.FailureCause = strings.TrimPrefix(card.FailureCause+"; "+err.Error(), "; ")
		}
		if card.WorkflowID == "" {
			card.Playbook, card.Subject, card.Drill = p.Name, subject, true
			if st.WorkflowID != "" {
				card.WorkflowID, card.RunID = st.WorkflowID, st.RunID
			}
		}
	}
	// Checks after the run use a context of their own: the drill's may be done (--timeout).
	after, done := context.WithTimeout(context.WithoutCancel(parent), 30*time.Second)
	defer done()
	card.LeakChecks = leakChecks(after, r.conn, r.sb, card.WorkflowID, card.RunID)
	card.Retries = activityRetries(after, r.conn, card.WorkflowID, card.RunID)
	card.Elapsed = time.Since(start)
	card.UpstreamChecks = upstreamChecks(r.sb, card)
	card.Passed = err == nil && len(fr.errs) == 0 && card.Outcome == workflows.OutcomeContained
	for _, lc := range card.LeakChecks {
		if lc.Leaks > 0 {
			card.Passed = false
		}
	}
	for _, uc := range card.UpstreamChecks {
		card.Passed = card.Passed && uc.Passed
	}
	// A drill proves a playbook: one that changes systems and checks nothing proves nothing,
	// however the run went.
	if len(p.Unverified) > 0 && card.Passed {
		card.Passed = false
		card.FailureCause = fmt.Sprintf("playbook %s changes systems (%s) but verifies nothing and expects nothing, so its drill proves nothing; add a verify step or an expect: assertion", p.Name, strings.Join(p.Unverified, ", "))
	}
	card.Verdict = cardVerdict(card)
	return card
}

// drillMemo is what a drill's run records for listing: its playbook, that it is a drill, the
// faults injected and, for a replay, the run it replays (drill history leaves replays out).
func drillMemo(playbook string, faults any, replayOf string) map[string]any {
	m := map[string]any{"playbook": playbook, "drill": true, audit.MemoFaults: faults}
	if replayOf != "" {
		m[runs.MemoReplayOf] = replayOf
	}
	return m
}

// cancelRun cancels a drill's run that this command stops waiting for, and says what became
// of it.
func (r *rig) cancelRun(st runs.Started) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.conn.Client.CancelWorkflow(ctx, st.WorkflowID, st.RunID); err != nil {
		return fmt.Sprintf("cancelling run %s failed (%v); it has no worker now — cancel it from the Temporal Web UI", st.WorkflowID, err)
	}
	// Report it cancelled only once Temporal says it closed so (this process's worker is still
	// there to carry the cancellation out).
	var res workflows.RunResult
	err := r.conn.Client.GetWorkflow(ctx, st.WorkflowID, st.RunID).Get(ctx, &res)
	var canceled *temporal.CanceledError
	if err == nil || errors.As(err, &canceled) || runs.RecordedFailure(err, &res) {
		return fmt.Sprintf("run %s was cancelled and has ended (its drill worker is this command, which is stopping)", st.WorkflowID)
	}
	return fmt.Sprintf("cancellation of run %s was requested but not confirmed (%v); it has no worker once this command stops — check the Temporal Web UI", st.WorkflowID, err)
}

// watchPending announces each decision a tabletop drill waits for, once, as it opens: the
// run posts it to the drill's Slack thread itself; this tells whoever runs the drill too.
func (r *rig) watchPending(ctx context.Context, c client.Client, wfID string) {
	seen := map[string]bool{}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		open, err := runs.New(c, nil).Pending(qctx, wfID)
		cancel()
		if err != nil {
			continue // not started yet, or between workers
		}
		for _, p := range open {
			key := p.Step + "/" + p.Kind + "/" + p.RequestedAt.String()
			if seen[key] {
				continue
			}
			seen[key] = true
			if r.announce != nil {
				r.announce(wfID, p)
			} else if r.out != nil {
				deadline := "no deadline"
				if !p.Deadline.IsZero() {
					deadline = "escalated or failed at " + p.Deadline.Local().Format(time.TimeOnly)
				}
				fmt.Fprintf(r.out, "WAITING %s %s for one of [%s] (%s): %s\n  answer in Slack: /firebreak approve %s step=%s   (or deny)\n",
					p.Kind, p.Step, strings.Join(append(slices.Clone(p.Roles), p.Owners...), ", "), deadline, firstLine(p.Message), wfID, p.Step)
			}
		}
	}
}

// responses are a scorecard's lines about people: each decision with its response time, and
// each escalation.
func responses(c Scorecard) []string {
	var out []string
	for _, d := range c.Decisions {
		who := d.Approver
		if who == workflows.DrillApprover || strings.HasPrefix(who, workflows.DrillApprover+"-") {
			who += " (auto-approved)"
		}
		out = append(out, fmt.Sprintf("%s %s: %s by %s after %d ms%s", d.Kind, d.Step, d.Decision, who, d.ResponseMS, strings.TrimSuffix(" — "+d.Reason, " — ")))
	}
	for _, e := range c.Escalations {
		out = append(out, fmt.Sprintf("escalation %s: %s — %s", e.Step, e.Outcome, firstLine(e.Reason)))
	}
	return out
}

// activityRetries reads from the run's history which activities needed more than one attempt.
func activityRetries(ctx context.Context, conn *temporalConn, wfID, runID string) []ActivityAttempts {
	if wfID == "" {
		return nil
	}
	types := map[int64]string{}
	var out []ActivityAttempts
	events, _ := conn.DecodeEvents(ctx, wfID, runID) // the leak check reports an unreadable history
	for _, ev := range events {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			types[ev.GetEventId()] = a.GetActivityType().GetName()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.GetAttempt() > 1 {
			out = append(out, ActivityAttempts{Activity: types[a.GetScheduledEventId()], Attempts: a.GetAttempt(), LastFailure: a.GetLastFailure().GetMessage()})
		}
	}
	return out
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
	verdict := cardVerdict(c)
	kind := "RUN"
	if c.Drill {
		kind = "DRILL"
	}
	fmt.Fprintf(w, "\n%s %s — %s  subject=%s\n", kind, c.Playbook, verdict, orDash(c.Subject))
	fmt.Fprintf(w, "  run %s\n\n", c.WorkflowID)
	idw, actw := 24, 26 // column widths: the longest id and action, at least these
	for _, s := range c.Steps {
		idw, actw = max(idw, len(s.ID)), max(actw, len(s.Action))
	}
	fmt.Fprintf(w, "  %-4s %-*s %-*s %9s\n", "", idw, "STEP", actw, "ACTION", "DURATION")
	for _, s := range c.Steps {
		dur := "-"
		if s.Status == workflows.StatusSucceeded || s.Status == workflows.StatusFailed {
			dur = fmt.Sprintf("%d ms", s.DurationMS)
		}
		fmt.Fprintf(w, "  %-4s %-*s %-*s %9s", statusMark(s.Status), idw, s.ID, actw, s.Action, dur)
		switch s.Status {
		case workflows.StatusFailed:
			fmt.Fprintf(w, "  %s", s.Error)
		case workflows.StatusSkipped:
			fmt.Fprintf(w, "  skipped: %s", s.SkipReason)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	if tt := c.Times(); c.TimeToContainMS > 0 || c.Outcome == workflows.OutcomeContained {
		if tt.FirstCutStep != "" {
			fmt.Fprintf(w, "  Time to first cut: %s (trigger → %s)\n", workflows.Millis(tt.ToFirstCut), tt.FirstCutStep)
		}
		fmt.Fprintf(w, "  Time to contain: %s (trigger → the subject's access cut)\n", workflows.Millis(tt.ToContain))
		if c.TimeToRemediateMS > 0 {
			fmt.Fprintf(w, "  Time to remediate: %s (trigger → every containment step, gated irreversible ones included)\n", workflows.Millis(tt.ToRemediate))
		}
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
	if rl := rotationLines(c); len(rl) > 0 {
		fmt.Fprintln(w, "  Shared secrets:")
		for _, l := range rl {
			fmt.Fprintf(w, "    %s\n", l)
		}
		for _, uc := range c.UpstreamChecks {
			fmt.Fprintf(w, "    %s %s %s\n", checkMark(uc.Passed), uc.Name, detail(uc.Detail))
		}
	}
	fmt.Fprintln(w, "  Secrets leaked:")
	for _, lc := range c.LeakChecks {
		fmt.Fprintf(w, "    %s %d canary hits in %d %s\n", checkMark(lc.Leaks == 0), lc.Leaks, lc.Scanned, lc.Artefact)
	}
	if rs := responses(c); len(rs) > 0 {
		fmt.Fprintln(w, "  Responses (approvals, manual steps, escalations):")
		for _, l := range rs {
			fmt.Fprintf(w, "    - %s\n", l)
		}
	}
	if len(c.Faults) > 0 {
		fmt.Fprintln(w, "  Faults injected:")
		for _, f := range c.Faults {
			fmt.Fprintf(w, "    - %s\n", faultSummary(f))
		}
	}
	if len(c.Retries) > 0 {
		fmt.Fprintln(w, "  Retried activities:")
		for _, a := range c.Retries {
			fmt.Fprintf(w, "    - %s: %d attempts %s\n", a.Activity, a.Attempts, detail(firstLine(a.LastFailure)))
		}
	}
	if len(c.ReportErrors) > 0 {
		fmt.Fprintln(w, "  Reporting delays/errors (containment was not held up):")
		for _, e := range c.ReportErrors {
			fmt.Fprintf(w, "    - %s\n", e)
		}
	}
	if c.Error != "" {
		fmt.Fprintf(w, "  Why: %s\n", c.Error)
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

// faultSummary says in one line what an injected fault did and the delay it caused.
func faultSummary(f testenv.FaultReport) string {
	switch {
	case f.Service == "worker" && !f.RecoveredAt.IsZero():
		return fmt.Sprintf("%s: worker stopped after the evidence snapshot, restarted after %d ms; run resumed %d ms after the crash", f.Fault, f.ClearedAt.Sub(f.InjectedAt).Milliseconds(), f.DelayMS)
	case f.Service == "worker":
		return fmt.Sprintf("%s: the run did not resume after the crash", f.Fault)
	case strings.HasPrefix(f.Fault, testenv.FaultLatency+"="):
		return fmt.Sprintf("%s: %d sandbox calls answered that much later, %d ms added in all", f.Fault, f.Hits, f.DelayMS)
	case strings.HasPrefix(f.Fault, testenv.FaultBystanders+"="):
		return fmt.Sprintf("%s: the sandbox Vault held that many more live tokens", f.Fault)
	case f.Hits == 0:
		return fmt.Sprintf("%s: no %s request was affected", f.Fault, f.Service)
	case strings.HasPrefix(f.Fault, testenv.FaultVaultSlow):
		return fmt.Sprintf("%s: %d vault requests slowed, %d ms added in all", f.Fault, f.Hits, f.DelayMS)
	case f.RecoveredAt.IsZero():
		return fmt.Sprintf("%s: %d %s requests failed; no later request succeeded", f.Fault, f.Hits, f.Service)
	}
	return fmt.Sprintf("%s: %d %s requests failed; the run got through %d ms after the first failure", f.Fault, f.Hits, f.Service, f.DelayMS)
}

// writeScorecardFiles writes the --markdown and --html scorecards.
func writeScorecardFiles(cards []Scorecard, f drillFlags) error {
	if f.markdownFile != "" {
		if err := os.WriteFile(f.markdownFile, []byte(scorecardsMarkdown(cards)), 0o644); err != nil {
			return fmt.Errorf("--markdown: %w", err)
		}
	}
	if f.htmlFile != "" {
		var b strings.Builder
		if err := scorecardHTML.Execute(&b, cards); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
		if err := os.WriteFile(f.htmlFile, []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
	}
	return nil
}

// mdCell makes s safe inside a Markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// scorecardsMarkdown renders drill scorecards as a Markdown document.
func scorecardsMarkdown(cards []Scorecard) string {
	var b strings.Builder
	b.WriteString("# Drill scorecards\n")
	for _, c := range cards {
		fmt.Fprintf(&b, "\n## %s — %s\n\n", c.Playbook, cardVerdict(c))
		fmt.Fprintf(&b, "- Subject: `%s`\n- Run: `%s` (run id `%s`)\n- Playbook sha256: `%s`\n", orDash(c.Subject), c.WorkflowID, c.RunID, orDash(c.PlaybookSHA256))
		if tt := c.Times(); c.Outcome == workflows.OutcomeContained {
			if tt.FirstCutStep != "" {
				fmt.Fprintf(&b, "- Time to first cut: %s (trigger → %s)\n", workflows.Millis(tt.ToFirstCut), tt.FirstCutStep)
			}
			fmt.Fprintf(&b, "- Time to contain: **%s** (trigger → the subject's access cut)\n", workflows.Millis(tt.ToContain))
			if c.TimeToRemediateMS > 0 {
				fmt.Fprintf(&b, "- Time to remediate: %s (trigger → every containment step, gated irreversible ones included)\n", workflows.Millis(tt.ToRemediate))
			}
		} else {
			b.WriteString("- Time to contain: **not contained**\n")
		}
		fmt.Fprintf(&b, "- Elapsed: %s\n\n", c.Elapsed.Round(time.Millisecond))
		b.WriteString("| | Step | Action | Duration | Note |\n|---|---|---|---:|---|\n")
		for _, s := range c.Steps {
			note := s.Error
			if s.Status == workflows.StatusSkipped {
				note = "skipped: " + s.SkipReason
			}
			fmt.Fprintf(&b, "| %s | %s | `%s` | %d ms | %s |\n", statusMark(s.Status), mdCell(s.ID), s.Action, s.DurationMS, mdCell(note))
		}
		section := func(title string, checks []workflows.Check) {
			if len(checks) == 0 {
				return
			}
			fmt.Fprintf(&b, "\n### %s\n\n", title)
			for _, v := range checks {
				name := v.Name
				if v.Step != "" {
					name = v.Step + ": " + name
				}
				fmt.Fprintf(&b, "- %s %s %s\n", checkMark(v.Passed), mdCell(name), mdCell(detail(v.Detail)))
			}
		}
		section("Verifications", c.Verifications)
		section("Expectations", c.Expectations)
		if rl := rotationLines(c); len(rl) > 0 {
			b.WriteString("\n### Shared secrets\n\n")
			for _, l := range rl {
				fmt.Fprintf(&b, "- %s\n", mdCell(l))
			}
			for _, uc := range c.UpstreamChecks {
				fmt.Fprintf(&b, "- %s %s %s\n", checkMark(uc.Passed), mdCell(uc.Name), mdCell(detail(uc.Detail)))
			}
		}
		b.WriteString("\n### Secrets leaked\n\n")
		for _, lc := range c.LeakChecks {
			fmt.Fprintf(&b, "- %s %d canary hits in %d %s\n", checkMark(lc.Leaks == 0), lc.Leaks, lc.Scanned, lc.Artefact)
		}
		if rs := responses(c); len(rs) > 0 {
			b.WriteString("\n### Responses\n\n")
			for _, l := range rs {
				fmt.Fprintf(&b, "- %s\n", mdCell(l))
			}
		}
		if len(c.Faults) > 0 {
			b.WriteString("\n### Faults injected\n\n")
			for _, f := range c.Faults {
				fmt.Fprintf(&b, "- %s\n", mdCell(faultSummary(f)))
			}
		}
		if len(c.Retries) > 0 {
			b.WriteString("\n### Retried activities\n\n")
			for _, a := range c.Retries {
				fmt.Fprintf(&b, "- `%s`: %d attempts %s\n", a.Activity, a.Attempts, mdCell(detail(firstLine(a.LastFailure))))
			}
		}
		if len(c.ReportErrors) > 0 {
			b.WriteString("\n### Reporting delays (containment was not held up)\n\n")
			for _, e := range c.ReportErrors {
				fmt.Fprintf(&b, "- %s\n", mdCell(e))
			}
		}
		if c.FailureCause != "" {
			fmt.Fprintf(&b, "\n**Failure:** %s\n", mdCell(c.FailureCause))
		}
	}
	return b.String()
}

// printCSS styles firebreak's HTML documents for the screen and for paper.
const printCSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;max-width:62rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.5rem;border-bottom:2px solid #111;padding-bottom:.3rem}
h2{font-size:1.2rem;margin-top:2rem;page-break-after:avoid}
h3{font-size:1rem;margin:1.2rem 0 .4rem;page-break-after:avoid}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #bbb;padding:.25rem .45rem;text-align:left;vertical-align:top}
th{background:#eee}
tr{page-break-inside:avoid}
code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,monospace;font-size:.85em;word-break:break-all}
.pass{color:#06612a;font-weight:600}.fail{color:#a00;font-weight:700}
li.pass{color:inherit;font-weight:normal}li.fail{font-weight:600}
.meta td:first-child{width:12rem;font-weight:600}
section.card{page-break-inside:auto}
@media print{body{margin:0;max-width:none;font-size:11pt}a{color:inherit;text-decoration:none}h2{page-break-before:auto}}
`

var scorecardHTML = htmltemplate.Must(htmltemplate.New("scorecards").Funcs(htmltemplate.FuncMap{
	"verdict": cardVerdict, "rotations": rotationLines, "mark": statusMark, "firstLine": firstLine, "check": checkMark, "fault": faultSummary, "orDash": orDash,
	"ms":        func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"contained": func(c Scorecard) bool { return c.Outcome == workflows.OutcomeContained },
	"css":       func() htmltemplate.CSS { return htmltemplate.CSS(printCSS) },
	"responses": responses,
	"millis":    workflows.Millis,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>firebreak drill scorecards</title>
<style>{{css}}</style></head><body>
<h1>firebreak drill scorecards</h1>
{{range .}}<section class="card">
<h2>{{.Playbook}} — <span class="{{if .Passed}}pass{{else}}fail{{end}}">{{verdict .}}</span></h2>
<table class="meta">
<tr><td>Subject</td><td><code>{{orDash .Subject}}</code></td></tr>
<tr><td>Run</td><td><code>{{.WorkflowID}}</code> / <code>{{.RunID}}</code></td></tr>
<tr><td>Playbook sha256</td><td><code>{{orDash .PlaybookSHA256}}</code></td></tr>
{{$t := .Times}}{{if $t.FirstCutStep}}<tr><td>Time to first cut</td><td>{{millis $t.ToFirstCut}} (trigger → {{$t.FirstCutStep}})</td></tr>{{end}}
<tr><td>Time to contain</td><td>{{if contained .}}<b>{{millis $t.ToContain}}</b> (trigger → the subject's access cut){{else}}<span class="fail">not contained</span>{{end}}</td></tr>
{{if .TimeToRemediateMS}}<tr><td>Time to remediate</td><td>{{millis $t.ToRemediate}} (trigger → every containment step, gated irreversible ones included)</td></tr>{{end}}
<tr><td>Elapsed</td><td>{{ms .Elapsed}}</td></tr>
</table>
<h3>Steps</h3>
<table><tr><th></th><th>Step</th><th>Action</th><th>Duration</th><th>Note</th></tr>
{{range .Steps}}<tr><td>{{mark .Status}}</td><td>{{.ID}}</td><td><code>{{.Action}}</code></td><td>{{.DurationMS}} ms</td><td>{{if .Error}}{{.Error}}{{else if .SkipReason}}skipped: {{.SkipReason}}{{end}}</td></tr>
{{end}}</table>
{{if .Verifications}}<h3>Verifications</h3><ul>{{range .Verifications}}<li class="{{if .Passed}}pass{{else}}fail{{end}}">{{check .Passed}} {{.Step}}: {{.Name}} {{if .Detail}}— {{.Detail}}{{end}}</li>{{end}}</ul>{{end}}
{{with rotations .}}<h3>Shared secrets</h3><ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .UpstreamChecks}}<ul>{{range .UpstreamChecks}}<li class="{{if .Passed}}pass{{else}}fail{{end}}">{{check .Passed}} {{.Name}} {{if .Detail}}— {{.Detail}}{{end}}</li>{{end}}</ul>{{end}}
{{if .Expectations}}<h3>Expectations</h3><ul>{{range .Expectations}}<li class="{{if .Passed}}pass{{else}}fail{{end}}">{{check .Passed}} {{.Name}} {{if .Detail}}— {{.Detail}}{{end}}</li>{{end}}</ul>{{end}}
<h3>Secrets leaked</h3><ul>{{range .LeakChecks}}<li>{{check (eq .Leaks 0)}} {{.Leaks}} canary hits in {{.Scanned}} {{.Artefact}}</li>{{end}}</ul>
{{with responses .}}<h3>Responses</h3><ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Faults}}<h3>Faults injected</h3><ul>{{range .Faults}}<li>{{fault .}}</li>{{end}}</ul>{{end}}
{{if .Retries}}<h3>Retried activities</h3><ul>{{range .Retries}}<li><code>{{.Activity}}</code>: {{.Attempts}} attempts{{if .LastFailure}} — {{firstLine .LastFailure}}{{end}}</li>{{end}}</ul>{{end}}
{{if .ReportErrors}}<h3>Reporting delays (containment was not held up)</h3><ul>{{range .ReportErrors}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .FailureCause}}<p class="fail">Failure: {{.FailureCause}}</p>{{end}}
</section>
{{end}}</body></html>
`))

// firstLine is s up to its first line break: vendor errors append request dumps.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

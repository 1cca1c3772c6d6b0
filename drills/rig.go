package drills

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

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

// Config is what a rig needs from its caller: a Temporal connection (which the rig uses but
// does not close), where evidence goes, and who runs the drills. Zero values: no logger
// output, no announcements, user "unknown".
type Config struct {
	// Client is the Temporal client the drill worker and the drills use.
	Client client.Client
	// Runs starts, waits for, queries and reads runs over Client (its codec decrypts history).
	Runs *runs.Client
	// Embedded says Client talks to a server inside this process, which nobody else can
	// reach: drills on it are unattended by default and the rig serves the shared drill queue.
	Embedded bool
	// EvidenceDir is where drill evidence is written.
	EvidenceDir string
	Logger      *slog.Logger
	// User is who runs the drills: the trigger's "by".
	User string
	// Out receives what the person running the drills must see while they run: a drill
	// stopped and cancelled, a decision a tabletop waits for. Nil discards it.
	Out io.Writer
	// Announce, when set, is told of each decision a tabletop drill waits for instead of Out.
	Announce func(wfID string, p workflows.PendingApproval)
	// Redact, when set, redacts the last errors of retried steps before they are shown on Out.
	Redact func(string) string
}

// Settings are one drill's options.
type Settings struct {
	// All says the drill is part of a sweep of every playbook (--all).
	All bool
	// Inject lists the faults to inject, as --inject takes them (KIND or KIND=PARAM).
	Inject []string
	// NoPagerDuty leaves the sandbox PagerDuty incident out of the drill's reporting.
	NoPagerDuty bool
	// Timeout bounds the wait for the drill, after which its run is cancelled; 0: no bound.
	Timeout time.Duration
	// ReplayOf is the workflow id of the recorded run a replay drills again.
	ReplayOf string
	// AutoApprove has the drill bot grant approvals, manual steps and escalations at once;
	// AutoApproveSet says whether it was given (else the default applies).
	AutoApprove    bool
	AutoApproveSet bool
}

// AutoApproves decides whether a drill runs unattended. AutoApprove, when set, wins.
// Otherwise a sweep of every playbook (nobody watches step by step) and drills on the embedded
// server (which no participant can reach) are unattended, and a named playbook drilled on a
// shared server is a tabletop: its approvals and manual steps wait for people, who answer in
// Slack (/firebreak approve RUN step=STEP, or the buttons) as in production.
func (s Settings) AutoApproves(embedded bool) bool {
	if s.AutoApproveSet {
		return s.AutoApprove
	}
	return s.All || embedded
}

// Rig is what a drill runs on: the sandbox, a Temporal connection, and a worker on a drill
// task queue bound only to the sandbox.
type Rig struct {
	cfg    Config
	sb     *testenv.Sandbox
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
}

// EvidenceDir is dir, or when it is empty a new temporary directory for the evidence of a
// command's drills (kind: "drill", "replay").
func EvidenceDir(dir, kind string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	return os.MkdirTemp("", "firebreak-"+kind+"-evidence-")
}

// Start opens the evidence store, seeds a sandbox and starts a drill worker bound to it.
func Start(ctx context.Context, cfg Config) (*Rig, error) {
	store, err := evidence.OpenFileStore(cfg.EvidenceDir)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.User == "" {
		cfg.User = "unknown"
	}
	r := &Rig{cfg: cfg, sb: testenv.NewSandbox(nil), store: store, queue: workflows.DrillTaskQueue, logger: cfg.Logger}
	// Attached to a shared server, this process serves a task queue of its own, so its drills
	// run against its own sandbox and no other worker's.
	if !cfg.Embedded {
		host, _ := os.Hostname()
		r.queue = fmt.Sprintf("%s/%s-%d", workflows.DrillTaskQueue, host, os.Getpid())
	}
	if err := r.startWorker(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Sandbox is the sandbox the current (or next) drill runs against.
func (r *Rig) Sandbox() *testenv.Sandbox { return r.sb }

// TaskQueue is the drill task queue the rig's worker serves.
func (r *Rig) TaskQueue() string { return r.queue }

// EvidencePath is the directory drill evidence is written to.
func (r *Rig) EvidencePath() string { return r.store.Path() }

// SeedNext seeds the sandbox of the next drill with org instead of the default organisation.
func (r *Rig) SeedNext(org *testenv.Org) { r.org = org }

// startWorker starts a new drill worker bound to the rig's current sandbox.
func (r *Rig) startWorker() error {
	r.gen++
	host, _ := os.Hostname()
	w := worker.New(r.cfg.Client, r.queue, worker.Options{
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
func (r *Rig) stopWorker() {
	if r.w != nil {
		r.w.Stop()
		r.w = nil
	}
}

// Reseed replaces the sandbox with a freshly seeded one, so every drill starts from the same
// uncontained organisation, and binds a new worker to it. Drill reseeds by itself; a caller
// that starts runs of its own on TaskQueue calls it between them.
func (r *Rig) Reseed() error {
	r.stopWorker()
	r.sb.Close()
	r.sb = testenv.NewSandbox(r.org)
	r.org = nil
	return r.startWorker()
}

// Close stops the drill worker and the sandbox. The Temporal client is the caller's to close.
func (r *Rig) Close() {
	r.stopWorker()
	r.sb.Close()
}

func (r *Rig) setSnapshotHook(f func()) {
	r.hookMu.Lock()
	r.onSnap = f
	r.hookMu.Unlock()
}

// drillHooks tells the rig when a run's evidence snapshot has been stored, which is when
// containment begins: the moment containment-phase faults strike.
type drillHooks struct {
	interceptor.WorkerInterceptorBase
	r *Rig
}

func (h *drillHooks) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &drillActivityHook{r: h.r, ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}}
}

type drillActivityHook struct {
	interceptor.ActivityInboundInterceptorBase
	r *Rig
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

// Drill runs one playbook as a drill on a freshly seeded sandbox and returns its scorecard.
func (r *Rig) Drill(ctx context.Context, p *playbooks.Plan, inputs map[string]any, f Settings) Scorecard {
	card := Scorecard{}
	if r.used || r.org != nil {
		if err := r.Reseed(); err != nil {
			card.Playbook, card.Drill, card.FailureCause = p.Name, true, "reseeding the sandbox: "+err.Error()
			return card
		}
	}
	r.used = true
	faults, err := parseFaults(f.Inject)
	if err != nil {
		card.Playbook, card.Drill, card.FailureCause = p.Name, true, err.Error()
		return card
	}
	c, sb, queue := r.cfg.Client, r.sb, r.queue
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
	if !f.NoPagerDuty {
		rep.PagerDutyIncident = testenv.DrillIncident
	}
	auto := f.AutoApproves(r.cfg.Embedded)
	run := runs.PrepareBound(p, inputs, runs.Request{
		Drill: true, Report: rep, AutoApprove: auto, Directory: sb.Org.Directory(),
		Trigger: workflows.Trigger{Kind: "drill", By: r.cfg.User, Reason: "firebreak drill run", At: start.UTC()},
	})
	parent := ctx
	var cancel context.CancelFunc
	if f.Timeout > 0 {
		ctx, cancel = context.WithTimeout(parent, f.Timeout)
	} else {
		ctx, cancel = context.WithCancel(parent)
	}
	defer cancel()
	wfID := run.ID
	fr := newFaultRun(r, faults)
	// After a crash the first query may wait for the server to give up on the dead worker's
	// sticky queue: that wait is part of the delay the crash causes, so allow the whole run.
	watch := func() string {
		if _, err := runs.QueryStatus(ctx, c, wfID, f.Timeout); err != nil {
			return err.Error()
		}
		return ""
	}
	if err = fr.arm(ctx, watch); err != nil {
		card.Playbook, card.Drill, card.FailureCause = p.Name, true, "injecting faults: "+err.Error()
		card.Faults = fr.finish()
		return card
	}
	st, err := r.cfg.Runs.StartOrJoin(ctx, run, runs.StartOptions{
		Queue: queue, Fresh: true,
		Memo: drillMemo(p.Name, injectedKinds(faults), f.ReplayOf),
	})
	recorded := false
	if err == nil {
		watchCtx, stopWatch := context.WithCancel(ctx)
		go fr.clearWhenVerified(watchCtx, c, wfID, p)
		watched := make(chan struct{})
		if !auto {
			go func() { defer close(watched); r.watchPending(watchCtx, wfID) }()
		} else {
			close(watched)
		}
		retries := make(chan struct{})
		go func() { defer close(retries); r.watchRetries(watchCtx, wfID) }()
		card.RunResult, recorded, err = r.cfg.Runs.Wait(ctx, st)
		stopWatch()
		<-watched // nothing is announced after the drill has returned
		<-retries
	}
	if err != nil && !recorded && st.WorkflowID != "" && runs.DeadlineReached(ctx, err) {
		// The command stopped waiting: this process serves the drill's task queue, so the run
		// would be left with no worker. Cancel it and say so.
		why := "interrupted"
		if parent.Err() == nil {
			why = fmt.Sprintf("--timeout %s passed", f.Timeout)
		}
		err = fmt.Errorf("%s; %s", why, r.cancelRun(st))
		if r.cfg.Out != nil {
			fmt.Fprintf(r.cfg.Out, "firebreak: drill %s: %v\n", st.WorkflowID, err)
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
	card.LeakChecks = LeakChecks(after, r.cfg.Runs, r.sb, card.WorkflowID, card.RunID)
	card.Retries = ActivityRetries(after, r.cfg.Runs, card.WorkflowID, card.RunID)
	card.Elapsed = time.Since(start)
	card.UpstreamChecks = upstreamChecks(r.sb, card)
	card.SlackThread = SlackThread(r.sb, testenv.DrillChannel)
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
	card.Verdict = Verdict(card)
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
func (r *Rig) cancelRun(st runs.Started) string {
	// Generous: on a busy machine the run takes a while to carry the cancellation out.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.cfg.Client.CancelWorkflow(ctx, st.WorkflowID, st.RunID); err != nil {
		return fmt.Sprintf("cancelling run %s failed (%v); it has no worker now — cancel it from the Temporal Web UI", st.WorkflowID, err)
	}
	// Report it cancelled only once Temporal says it closed so (this process's worker is still
	// there to carry the cancellation out).
	var res workflows.RunResult
	err := r.cfg.Client.GetWorkflow(ctx, st.WorkflowID, st.RunID).Get(ctx, &res)
	var canceled *temporal.CanceledError
	if err == nil || errors.As(err, &canceled) || runs.RecordedFailure(err, &res) {
		return fmt.Sprintf("run %s was cancelled and has ended (its drill worker is this command, which is stopping)", st.WorkflowID)
	}
	return fmt.Sprintf("cancellation of run %s was requested but not confirmed (%v); it has no worker once this command stops — check the Temporal Web UI", st.WorkflowID, err)
}

// watchPending announces each decision a tabletop drill waits for, once, as it opens: the
// run posts it to the drill's Slack thread itself; this tells whoever runs the drill too.
func (r *Rig) watchPending(ctx context.Context, wfID string) {
	runs.WatchPending(ctx, r.cfg.Runs, []string{wfID}, 50*time.Millisecond, func(wfID string, p workflows.PendingApproval) bool {
		if r.cfg.Announce != nil {
			r.cfg.Announce(wfID, p)
		} else if r.cfg.Out != nil {
			deadline := "no deadline"
			if !p.Deadline.IsZero() {
				deadline = "escalated or failed at " + p.Deadline.Local().Format(time.TimeOnly)
			}
			fmt.Fprintf(r.cfg.Out, "WAITING %s %s for one of [%s] (%s): %s\n  answer in Slack: /firebreak approve %s step=%s   (or deny)\n",
				p.Kind, p.Step, strings.Join(append(slices.Clone(p.Roles), p.Owners...), ", "), deadline, firstLine(p.Message), wfID, p.Step)
		}
		return true
	})
}

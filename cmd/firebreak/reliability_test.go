package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/testenv/devserver"
	"github.com/firebreak-dev/firebreak/workflows"
)

var chaosRestartAll = flag.Bool("chaos-restart-all", false, "restart the embedded Temporal server at every step boundary of compromised-dev-key too, not only while activities are in flight")

// logBuffer collects every log line of a test's client, worker and server, for the canary scan.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// activityGate holds the first containment activities a worker runs after the evidence
// snapshot, one per hold point, until released, so a test can stop the Temporal server while
// each is in flight. Hold point i holds the i-th such activity before it runs, or after it ran
// (its side effect done, its result not yet reported).
type activityGate struct {
	interceptor.WorkerInterceptorBase
	mu       sync.Mutex
	snapshot bool // an evidence snapshot has succeeded in this worker
	next     int  // the hold point the next containment activity meets
	points   []holdPoint
}

type holdPoint struct {
	after   bool
	held    chan string   // receives the held activity's type
	release chan struct{} // closed to let it go
	once    *sync.Once
}

// newActivityGate arms one hold point per element of after.
func newActivityGate(after ...bool) *activityGate {
	g := &activityGate{}
	for _, a := range after {
		g.points = append(g.points, holdPoint{after: a, held: make(chan string, 1), release: make(chan struct{}), once: &sync.Once{}})
	}
	return g
}

// point returns hold point i's channel and its release function.
func (g *activityGate) point(i int) (held <-chan string, release func()) {
	p := g.points[i]
	return p.held, func() { p.once.Do(func() { close(p.release) }) }
}

func (g *activityGate) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &gatedActivity{g: g, ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}}
}

type gatedActivity struct {
	interceptor.ActivityInboundInterceptorBase
	g *activityGate
}

func (a *gatedActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	name := activity.GetInfo(ctx).ActivityType.Name
	g := a.g
	g.mu.Lock()
	hold := g.next < len(g.points) && g.snapshot && !strings.HasPrefix(name, "evidence.") && !strings.HasPrefix(name, "slack.") && !strings.HasPrefix(name, "pagerduty.")
	var p holdPoint
	if hold {
		p = g.points[g.next]
		g.next++
	}
	g.mu.Unlock()
	if hold && !p.after {
		p.held <- name
		<-p.release
	}
	out, err := a.Next.ExecuteActivity(ctx, in)
	if hold && p.after {
		p.held <- name
		<-p.release
	}
	if err == nil && name == evidence.ActivityPrefix+"Snapshot" {
		g.mu.Lock()
		g.snapshot = true
		g.mu.Unlock()
	}
	return out, err
}

// restartRun is one bundled playbook run against its own sandbox and worker.
type restartRun struct {
	plan  playbooks.Plan
	sb    *testenv.Sandbox
	seed  *testenv.Sandbox // the state the run started from
	evDir string
	gate  *activityGate
	w     worker.Worker
	id    string
	run   client.WorkflowRun
}

// TestTemporalServerRestartedMidRun runs every bundled playbook at once on a file-backed
// embedded Temporal server and stops the server twice while they are in flight: first while
// each run's first containment activity is executing (held before its side effect, which
// then happens while the server is down), then while each run's next containment activity has
// done its side effect but not yet reported it. Each time the server starts again on the same
// SQLite file and port, and the same workers reconnect. Every run must contain, and the sandbox's
// call log must show no revocation missed (the playbook's own expectations pass, and for
// compromised-dev-key every token and key is dead) and no side effect doubled (each token revoked
// by one successful request, each secret rotated once, each Slack message, PagerDuty note and
// evidence record once). History, Slack and PagerDuty traffic and every log line are scanned
// for the canary. -chaos-restart-all adds a restart at every step boundary of
// compromised-dev-key.
func TestTemporalServerRestartedMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts an embedded Temporal server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	logs := &logBuffer{}
	dbFile := filepath.Join(t.TempDir(), "temporal.db")
	srv, err := devserver.Start(ctx, devserver.Options{DBFile: dbFile, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Stop() }()
	_, port, _ := net.SplitHostPort(srv.FrontendHostPort())
	restart := func(why string) {
		t.Helper()
		began := time.Now()
		if err := srv.Stop(); err != nil {
			t.Fatalf("stopping the server (%s): %v", why, err)
		}
		p := 0
		_, _ = fmt.Sscan(port, &p)
		srv, err = devserver.Start(ctx, devserver.Options{DBFile: dbFile, FrontendPort: p, Logger: logs.logger()})
		if err != nil {
			t.Fatalf("starting the server again on %s (%s): %v", dbFile, why, err)
		}
		t.Logf("server restarted %s in %s", why, time.Since(began).Round(time.Millisecond))
	}
	t.Setenv("TEMPORAL_ADDRESS", srv.FrontendHostPort())
	t.Setenv("FIREBREAK_CODEC_KEY", base64.StdEncoding.EncodeToString([]byte("restart-test-key-0123456789abcd!")))
	t.Setenv("FIREBREAK_STATE_DIR", t.TempDir())
	conn, err := dialTemporal(ctx, settingsFrom(ctx), logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	var runs []*restartRun
	defer func() {
		for _, r := range runs {
			r.w.Stop()
			r.sb.Close()
			r.seed.Close()
		}
	}()
	for _, name := range lib.Names() {
		p, _ := lib.Get(name)
		r := &restartRun{plan: *p, sb: testenv.NewSandbox(nil), seed: testenv.NewSandbox(nil), evDir: t.TempDir(), gate: newActivityGate(false, true)}
		runs = append(runs, r)
		queue := workflows.DrillTaskQueue + "/restart-" + name
		store, err := evidence.OpenFileStore(r.evDir)
		if err != nil {
			t.Fatal(err)
		}
		r.w = worker.New(conn.Client, queue, worker.Options{Interceptors: []interceptor.WorkerInterceptor{r.gate}, WorkerStopTimeout: 5 * time.Second})
		workflows.Register(r.w)
		if err := r.sb.Register(r.w, store); err != nil {
			t.Fatal(err)
		}
		if err := r.w.Start(); err != nil {
			t.Fatal(err)
		}
		// A lost activity completion is retried after 3 s rather than after the production timeout.
		r.plan.Steps = append([]playbooks.Step(nil), p.Steps...)
		for i := range r.plan.Steps {
			if !r.plan.Steps[i].Builtin {
				r.plan.Steps[i].Timeout = playbooks.Duration(3 * time.Second)
			}
		}
		raw := map[string]string{}
		for k, v := range r.plan.DrillInputs() {
			raw[k] = v
		}
		if _, ok := raw["subject"]; !ok && r.plan.HasInput("subject") {
			raw["subject"] = "alice"
		}
		inputs, err := r.plan.BindInputs(raw)
		if err != nil {
			t.Fatal(err)
		}
		r.id = fmt.Sprintf("restart/%s/%d", name, time.Now().UnixNano())
		r.run, err = conn.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: r.id, TaskQueue: queue, WorkflowTaskTimeout: 2 * time.Second}, workflows.Run,
			workflows.RunInput{Plan: r.plan, Inputs: inputs, Drill: true, AutoApprove: true, Trigger: workflows.Trigger{Kind: "drill", By: "restart-test"},
				Report: workflows.Report{SlackChannel: testenv.DrillChannel, PagerDutyIncident: testenv.DrillIncident}})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Restart 1: every run's first containment activity is in flight, its side effect not done.
	// Restart 2: every run's next containment activity has done its side effect, unreported.
	for i, after := range []bool{false, true} {
		what := map[bool]string{false: "while containment activities were in flight", true: "after containment side effects, before they were reported"}[after]
		var releases []func()
		for _, r := range runs {
			held, release := r.gate.point(i)
			releases = append(releases, release)
			select {
			case name := <-held:
				t.Logf("%s: %s held %s", r.plan.Name, name, map[bool]string{false: "before it ran", true: "after it ran"}[after])
			case <-runDone(ctx, conn.Client, r.id):
				t.Logf("%s: finished before a containment activity could be held", r.plan.Name)
			case <-ctx.Done():
				t.Fatalf("%s never reached a containment activity", r.plan.Name)
			}
		}
		if err := srv.Stop(); err != nil {
			t.Fatal(err)
		}
		for _, rel := range releases {
			rel() // the activities finish (or do their vendor calls) while the server is down
		}
		restart(what)
	}
	if *chaosRestartAll {
		restartAtEveryBoundary(t, ctx, conn, lib, restart)
	}

	for _, r := range runs {
		var res workflows.RunResult
		err := r.run.Get(ctx, &res)
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.HasDetails() {
			_ = appErr.Details(&res)
		}
		if err != nil || res.Outcome != workflows.OutcomeContained {
			t.Errorf("%s after two server restarts: %v outcome=%s error=%s", r.plan.Name, err, res.Outcome, res.Error)
			continue
		}
		assertNothingDoubled(t, r.plan.Name, r.sb, r.seed, r.evDir)
		if r.plan.Name == "compromised-dev-key" {
			assertAliceContained(t, r.plan.Name, r.sb, r.seed)
		}
		assertNoCanary(t, ctx, conn, r.sb, r.id, res.RunID, "")
	}
	assertNoCanary(t, ctx, conn, nil, "", "", logs.String())
}

// restartAtEveryBoundary runs compromised-dev-key once per step, stopping the server the
// moment that many steps have finished (as its status query shows) and starting it again.
func restartAtEveryBoundary(t *testing.T, ctx context.Context, conn *temporalConn, lib *playbooks.Library, restart func(string)) {
	p, _ := lib.Get("compromised-dev-key")
	for k := 1; k <= len(p.Steps); k++ {
		sb, seed := testenv.NewSandbox(nil), testenv.NewSandbox(nil)
		evDir := t.TempDir()
		store, err := evidence.OpenFileStore(evDir)
		if err != nil {
			t.Fatal(err)
		}
		queue := fmt.Sprintf("%s/restart-boundary-%d", workflows.DrillTaskQueue, k)
		w := worker.New(conn.Client, queue, worker.Options{WorkerStopTimeout: 5 * time.Second})
		workflows.Register(w)
		if err := sb.Register(w, store); err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		plan := *p
		plan.Steps = append([]playbooks.Step(nil), p.Steps...)
		for i := range plan.Steps {
			if !plan.Steps[i].Builtin {
				plan.Steps[i].Timeout = playbooks.Duration(3 * time.Second)
			}
		}
		inputs, _ := plan.BindInputs(map[string]string{"subject": "alice"})
		id := fmt.Sprintf("restart-boundary/%d/%d", k, time.Now().UnixNano())
		run, err := conn.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue, WorkflowTaskTimeout: 2 * time.Second}, workflows.Run,
			workflows.RunInput{Plan: plan, Inputs: inputs, Drill: true, AutoApprove: true, Trigger: workflows.Trigger{Kind: "drill", By: "restart-test"},
				Report: workflows.Report{SlackChannel: testenv.DrillChannel, PagerDutyIncident: testenv.DrillIncident}})
		if err != nil {
			t.Fatal(err)
		}
		waitSteps(t, ctx, conn.Client, id, k)
		restart(fmt.Sprintf("after step %d of compromised-dev-key", k))
		var res workflows.RunResult
		if err := run.Get(ctx, &res); err != nil || res.Outcome != workflows.OutcomeContained {
			t.Errorf("compromised-dev-key restarted after step %d: %v %s", k, err, res.Outcome)
		} else {
			assertAliceContained(t, fmt.Sprintf("compromised-dev-key/after-step-%d", k), sb, seed)
			assertNothingDoubled(t, fmt.Sprintf("compromised-dev-key/after-step-%d", k), sb, seed, evDir)
			assertNoCanary(t, ctx, conn, sb, id, res.RunID, "")
		}
		w.Stop()
		sb.Close()
		seed.Close()
	}
}

// waitSteps polls the run's status query until k of its steps have finished (or it ended).
func waitSteps(t *testing.T, ctx context.Context, c client.Client, id string, k int) {
	t.Helper()
	for {
		if res, err := queryStatus(ctx, c, id, 5*time.Second); err == nil {
			done := 0
			for _, s := range res.Steps {
				switch s.Status {
				case workflows.StatusSucceeded, workflows.StatusSkipped, workflows.StatusFailed:
					done++
				}
			}
			if done >= k || res.Outcome != workflows.OutcomeRunning {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run %s never finished %d steps", id, k)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// runDone is closed when workflow id has closed.
func runDone(ctx context.Context, c client.Client, id string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		_ = c.GetWorkflow(ctx, id, "").Get(ctx, nil)
		close(done)
	}()
	return done
}

// assertAliceContained checks that nothing was missed: every Vault token alice held fails
// lookup, her entity is disabled and every IAM key of hers is Inactive.
func assertAliceContained(t *testing.T, name string, sb, seed *testenv.Sandbox) {
	t.Helper()
	alice := mustDeveloper(t, seed, "alice")
	for _, tok := range alice.VaultTokens {
		if sb.Vault.TokenValid(tok.Accessor) {
			t.Errorf("%s: token %s still valid: a revocation was missed", name, tok.Accessor)
		}
	}
	if !sb.Vault.EntityDisabled("alice") {
		t.Errorf("%s: alice's Vault entity is not disabled", name)
	}
	for _, k := range alice.IAMKeys {
		if st, _ := sb.IAM.KeyStatus("alice", k.ID); st != "Inactive" {
			t.Errorf("%s: IAM key %s is %q, want Inactive", name, k.ID, st)
		}
	}
}

// assertNothingDoubled checks the sandbox for side effects done twice: a shared secret rotated
// more than once, an IAM key created twice by one request, a Slack message or PagerDuty note
// posted twice, an evidence record stored twice. A token revoked again is not one: when a
// server restart loses a finished revocation's result, the activity runs again and Vault
// answers the repeated revoke-accessor with 200 and "No token found" (AlreadyRevoked).
func assertNothingDoubled(t *testing.T, name string, sb, seed *testenv.Sandbox, evDir string) {
	t.Helper()
	for _, s := range seed.Org.Secrets {
		_, before, _ := seed.Vault.Secret(s.Mount, s.Path)
		_, after, _ := sb.Vault.Secret(s.Mount, s.Path)
		if after-before > 1 {
			t.Errorf("%s: secret %s/%s went from version %d to %d: rotated more than once", name, s.Mount, s.Path, before, after)
		}
	}
	created := map[string]int{}
	for _, c := range sb.Recorder.Calls("iam") {
		if strings.Contains(c.Op, "CreateAccessKey") && c.Status < 300 {
			created[c.Body]++
		}
	}
	for body, n := range created {
		if n > 1 {
			t.Errorf("%s: IAM access key created %d times by the same request (%s)", name, n, body)
		}
	}
	slackKeys := map[string]int{}
	top := 0
	for _, m := range sb.Slack.Messages(testenv.DrillChannel) {
		if m.ThreadTS == "" {
			top++
		}
		if m.Metadata != nil {
			slackKeys[fmt.Sprint(m.Metadata.EventPayload["key"])]++
		}
	}
	for k, n := range slackKeys {
		if n > 1 {
			t.Errorf("%s: Slack message %s posted %d times", name, k, n)
		}
	}
	if top != 1 {
		t.Errorf("%s: %d status messages in Slack, want 1", name, top)
	}
	for k, n := range pagerDutyMarkers(sb, "") {
		if n > 1 {
			t.Errorf("%s: PagerDuty note %s posted %d times", name, k, n)
		}
	}
	recs, err := evidence.ReadFile(filepath.Join(evDir, "evidence.jsonl"))
	if err == nil {
		err = evidence.Verify(recs)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s: evidence chain: %v", name, err)
	}
	keys := map[string]bool{}
	for _, r := range recs {
		if keys[r.Key] {
			t.Errorf("%s: evidence %s recorded twice", name, r.Key)
		}
		keys[r.Key] = true
	}
}

// pagerDutyMarkers counts the drill incident's notes by their idempotency marker.
func pagerDutyMarkers(sb *testenv.Sandbox, id string) map[string]int {
	prefix := pagerduty.Marker("")[:len(pagerduty.Marker(""))-1]
	out := map[string]int{}
	for _, n := range sb.PagerDuty.Notes(testenv.DrillIncident) {
		lines := strings.Split(strings.TrimSpace(n.Content), "\n")
		if last := lines[len(lines)-1]; strings.HasPrefix(last, prefix) {
			if id != "" {
				last = strings.Replace(last, id+"/", "", 1)
			}
			out[last]++
		}
	}
	return out
}

// slackKeys counts the drill channel's messages by their idempotency key.
func slackKeys(sb *testenv.Sandbox, id string) map[string]int {
	out := map[string]int{}
	for _, m := range sb.Slack.Messages(testenv.DrillChannel) {
		if m.Metadata != nil {
			out[strings.TrimPrefix(fmt.Sprint(m.Metadata.EventPayload["key"]), id+"/")]++
		}
	}
	return out
}

// assertNoCanary scans the decrypted history of run id, everything sent to Slack and
// PagerDuty, the messages and notes as stored, and logs for the canary.
func assertNoCanary(t *testing.T, ctx context.Context, conn *temporalConn, sb *testenv.Sandbox, id, runID, logs string) {
	t.Helper()
	if sb != nil {
		for _, lc := range drills.LeakChecks(ctx, conn.Runs, sb, id, runID) {
			if lc.Leaks > 0 || lc.Scanned == 0 {
				t.Errorf("run %s: %s: %d of %d scanned carry the canary (want 0 of at least 1)", id, lc.Artefact, lc.Leaks, lc.Scanned)
			}
		}
		for _, m := range sb.Slack.Messages(testenv.DrillChannel) {
			if testenv.ContainsCanary(m.Text + string(m.Blocks)) {
				t.Errorf("run %s: a Slack message carries the canary", id)
			}
		}
		for _, n := range sb.PagerDuty.Notes(testenv.DrillIncident) {
			if testenv.ContainsCanary(n.Content) {
				t.Errorf("run %s: a PagerDuty note carries the canary", id)
			}
		}
	}
	if logs != "" && testenv.ContainsCanary(logs) {
		i := strings.Index(logs, testenv.Canary)
		t.Errorf("the logs carry the canary: …%s…", logs[max(0, i-200):i])
	}
}

// TestVendorDownForWholeRun drills compromised-dev-key three times on one rig: with every
// vendor up (the baseline), with Slack down and with PagerDuty down from before the run
// starts until well after containment — until the run has given up on its in-run retries and
// queued the vendor's messages (the report-outbox version marker is in its history) and is
// still open waiting for the vendor. Then the vendor comes back. It proves, from the runs' own
// records and the sandbox's:
//   - containment does not wait for the vendor: the run contained while the vendor was still
//     down, before the vendor received anything, with the same containment steps succeeding at
//     the first attempt as in the baseline (both times to contain are logged, not compared by
//     a threshold);
//   - messages are delivered when the vendor returns: the vendor ends up with exactly the
//     baseline's set of Slack messages or PagerDuty notes, the summary among them, each once,
//     the status message updated to "contained", and no report errors;
//   - the other vendor was not held up: its messages are the baseline's too;
//   - no canary in history, Slack, PagerDuty or logs.
func TestVendorDownForWholeRun(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logs := &logBuffer{}
	rg, err := startRig(ctx, logs.logger(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rg.Close()
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := lib.Get("compromised-dev-key")
	inputs, err := p.BindInputs(map[string]string{"subject": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	seed := testenv.NewSandbox(nil) // the state every drill starts from
	defer seed.Close()
	type outcome struct {
		res        workflows.RunResult
		slack, pd  map[string]int
		statusText string
	}
	drill := func(fault string) outcome {
		t.Helper()
		if err := rg.Reseed(); err != nil {
			t.Fatal(err)
		}
		sb := rg.Sandbox()
		var inj *testenv.Injection
		if fault != "" {
			f, err := testenv.ParseFault(fault)
			if err != nil {
				t.Fatal(err)
			}
			if inj, err = sb.Inject(f); err != nil {
				t.Fatal(err)
			}
		}
		id := fmt.Sprintf("vendor-down/%s/%d", fault, time.Now().UnixNano())
		run, err := rg.conn.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: rg.TaskQueue()}, workflows.Run,
			workflows.RunInput{Plan: *p, Inputs: inputs, Drill: true, AutoApprove: true, Trigger: workflows.Trigger{Kind: "drill", By: "vendor-down-test", At: time.Now().UTC()},
				Report: workflows.Report{SlackChannel: testenv.DrillChannel, PagerDutyIncident: testenv.DrillIncident}})
		if err != nil {
			t.Fatal(err)
		}
		var cleared time.Time
		if inj != nil {
			waitOutboxInUse(t, ctx, rg.conn, id)
			d, err := rg.conn.Client.DescribeWorkflowExecution(ctx, id, "")
			if err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				t.Fatalf("%s: the run is not waiting for the vendor when it returns: %v %v", fault, err, d.GetWorkflowExecutionInfo().GetStatus())
			}
			inj.Clear()
			cleared = time.Now()
		}
		var res workflows.RunResult
		if err := run.Get(ctx, &res); err != nil || res.Outcome != workflows.OutcomeContained {
			t.Fatalf("%s: %v %s %s", fault, err, res.Outcome, res.Error)
		}
		if len(res.ReportErrors) > 0 {
			t.Errorf("%s: messages were lost: %v", fault, res.ReportErrors)
		}
		// Reports are keyed by the run: workflow id, run id, then what they report.
		keyed := id + "/" + run.GetRunID()
		out := outcome{res: res, slack: slackKeys(sb, keyed), pd: pagerDutyMarkers(sb, keyed)}
		for _, m := range sb.Slack.Messages(testenv.DrillChannel) {
			if m.ThreadTS == "" {
				out.statusText = m.Text
			}
		}
		for _, a := range drills.ActivityRetries(ctx, rg.conn.Runs, id, res.RunID) {
			if !strings.HasPrefix(a.Activity, "slack.") && !strings.HasPrefix(a.Activity, "pagerduty.") {
				t.Errorf("%s: containment activity %s needed %d attempts (%s)", fault, a.Activity, a.Attempts, a.LastFailure)
			}
		}
		if inj != nil {
			svc := inj.Fault.Service()
			if !res.ContainedAt.Before(cleared) {
				t.Errorf("%s: contained at %s, after %s came back at %s", fault, res.ContainedAt.Format(time.StampMicro), svc, cleared.Format(time.StampMicro))
			}
			var firstOK time.Time
			for _, c := range sb.Recorder.Calls(svc) {
				if c.Status < 400 && c.At.After(inj.Report().LastHit) {
					firstOK = c.At
					break
				}
			}
			if firstOK.IsZero() || !res.ContainedAt.Before(firstOK) {
				t.Errorf("%s: contained at %s, first request %s answered at %s: containment should not wait for it", fault, res.ContainedAt.Format(time.StampMicro), svc, firstOK.Format(time.StampMicro))
			}
			t.Logf("%s: time to contain %d ms; %s down %s before the run queued its messages and it came back; delivered %s after", fault, res.TimeToContainMS, svc, cleared.Sub(res.StartedAt).Round(time.Millisecond), firstOK.Sub(cleared).Round(time.Millisecond))
		} else {
			t.Logf("baseline: time to contain %d ms", res.TimeToContainMS)
		}
		assertContainedOnce(t, sb, seed, mustDeveloper(t, seed, "alice"), drills.Scorecard{RunResult: res})
		assertNoCanary(t, ctx, rg.conn, sb, id, res.RunID, "")
		return out
	}
	base := drill("")
	for _, fault := range []string{testenv.FaultSlackDown, testenv.FaultPagerDutyDown} {
		got := drill(fault)
		if !sameKeys(got.slack, base.slack) || !sameKeys(got.pd, base.pd) {
			t.Errorf("%s: delivered Slack %v and PagerDuty %v, the baseline delivered Slack %v and PagerDuty %v", fault, sortedCounts(got.slack), sortedCounts(got.pd), sortedCounts(base.slack), sortedCounts(base.pd))
		}
		if got.slack["summary"] != 1 || len(got.pd) == 0 {
			t.Errorf("%s: summary delivered %d times to Slack, %d PagerDuty notes", fault, got.slack["summary"], len(got.pd))
		}
		if !strings.Contains(got.statusText, "contained") {
			t.Errorf("%s: the status message was not brought up to date: %q", fault, got.statusText)
		}
		if c, b := containedSteps(got.res), containedSteps(base.res); c != b {
			t.Errorf("%s: containment steps succeeded %s, baseline %s", fault, c, b)
		}
	}
	assertNoCanary(t, ctx, rg.conn, nil, "", "", logs.String())
}

// waitOutboxInUse waits until run id has recorded the report-outbox version marker: a message
// failed its in-run retries and now waits in the vendor's outbox.
func waitOutboxInUse(t *testing.T, ctx context.Context, conn *temporalConn, id string) {
	t.Helper()
	for {
		events, err := conn.DecodeEvents(ctx, id, "")
		if err == nil {
			for _, ev := range events {
				if m := ev.GetMarkerRecordedEventAttributes(); m != nil && strings.Contains(m.String(), "report-outbox") {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run %s never queued a message for the vendor that is down", id)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func containedSteps(res workflows.RunResult) string {
	var ids []string
	for _, s := range res.Steps {
		if s.Contains && s.Status == workflows.StatusSucceeded {
			ids = append(ids, s.ID)
		}
	}
	return strings.Join(ids, ",")
}

func sameKeys(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

func sortedCounts(m map[string]int) []string {
	var out []string
	for k, n := range m {
		out = append(out, fmt.Sprintf("%s×%d", k, n))
	}
	sort.Strings(out)
	return out
}

func mustDeveloper(t *testing.T, sb *testenv.Sandbox, name string) testenv.Developer {
	t.Helper()
	d, ok := sb.Org.Developer(name)
	if !ok {
		t.Fatalf("the sandbox has no developer %s", name)
	}
	return d
}

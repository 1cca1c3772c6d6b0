package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	vaultapi "github.com/hashicorp/vault/api"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	"github.com/firebreak-dev/firebreak/activities/evidence"
	fbvault "github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/testenv/devserver"
	"github.com/firebreak-dev/firebreak/workflows"
)

var (
	massN           = flag.Int("mass.n", 1000, "BenchmarkMassDeprovision: how many developers to deprovision")
	massRateLimited = flag.Bool("mass.ratelimited", true, "BenchmarkMassDeprovision: also run the playbook with the sandbox enforcing rate limits")
	massRateN       = flag.Int("mass.rate-n", 100, "BenchmarkMassDeprovision: developers in the rate-limited run (at IAM's 20/s, 1,000 would take over ten minutes)")
	massIAMRate     = flag.Float64("mass.iam-rate", testenv.DefaultRateLimits().IAM.PerSecond, "rate-limited run: IAM requests a second (burst the same)")
	massHeapProfile = flag.String("mass.heapprofile", "", "BenchmarkMassDeprovision: write the worker processes' heap profiles at their peak into this directory")
	massProduction  = flag.Bool("mass.production", true, "BenchmarkMassDeprovision: also run the playbook on `firebreak worker` built with -tags noserver, the production worker, and report its memory")
	massVaultRate   = flag.Float64("mass.vault-rate", testenv.DefaultRateLimits().Vault.PerSecond, "rate-limited run: Vault requests a second (burst the same)")
	massCompare     = flag.Bool("mass.compare", true, "BenchmarkMassDeprovision: run the interpreter and the hand-written workflow and report their ratio (false: only the production and rate-limited runs the other flags ask for)")
	massRunTimeout  = flag.Duration("mass.run-timeout", 30*time.Minute, "BenchmarkMassDeprovision: how long one run may take before the bench gives up on it (10,000 developers need more than the default; so does -timeout)")
)

// massConcurrency is the playbook's concurrency per foreach step; the hand-written workflow
// uses the same.
const massConcurrency = 20

// The worker runs in a child process — this test binary re-executed with workerEnv set — so
// its peak resident set (VmHWM) is the worker's alone, not the server's or the sandbox's.
const workerEnv = "FIREBREAK_BENCH_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		if err := serveWorker(); err != nil {
			fmt.Fprintln(os.Stderr, "bench worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveWorker is the child: a worker with the interpreter, the hand-written workflow and the
// Vault, IAM and evidence activities bound to the parent's sandbox through the vendors' SDKs,
// as a drill worker has them. It says "ready" on stdout and stops on SIGTERM or stdin EOF.
func serveWorker() error {
	key, err := hex.DecodeString(os.Getenv("BENCH_CODEC_KEY"))
	if err != nil {
		return err
	}
	codec, err := workflows.NewCodec("bench", map[string][]byte{"bench": key})
	if err != nil {
		return err
	}
	codec = codec.WithNamespace(os.Getenv("BENCH_NAMESPACE")) // as the parent's: ciphertexts name their namespace
	// Warnings and errors (failed activity attempts among them) go to stderr, which the
	// parent scans for the canary.
	logger := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	c, err := client.Dial(client.Options{HostPort: os.Getenv("BENCH_TEMPORAL"), Namespace: os.Getenv("BENCH_NAMESPACE"), DataConverter: workflows.DataConverter(codec), FailureConverter: workflows.FailureConverter(codec),
		Logger: logger})
	if err != nil {
		return err
	}
	defer c.Close()
	// Keep connections to the sandbox open across the many concurrent calls, as a long-lived
	// production worker's clients do.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	hc := &http.Client{Transport: tr}
	vcfg := vaultapi.DefaultConfig()
	vcfg.Address = os.Getenv("BENCH_VAULT")
	vcfg.HttpClient = hc
	testenv.WaitOnVaultRateLimits(vcfg) // as the sandbox's own drill worker, and a production client, do
	vc, err := vaultapi.NewClient(vcfg)
	if err != nil {
		return err
	}
	vc.SetToken(testenv.VaultRootToken)
	ic := iam.New(iam.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(os.Getenv("BENCH_IAM_KEY"), os.Getenv("BENCH_IAM_SECRET"), ""),
		BaseEndpoint: aws.String(os.Getenv("BENCH_IAM")),
		HTTPClient:   hc,
	})
	store, err := evidence.OpenFileStore(os.Getenv("BENCH_EVIDENCE"))
	if err != nil {
		return err
	}
	w := worker.New(c, os.Getenv("BENCH_QUEUE"), worker.Options{})
	workflows.Register(w)
	w.RegisterWorkflowWithOptions(massHandWritten, workflow.RegisterOptions{Name: massHandWrittenName})
	fbvault.Register(w, &fbvault.Activities{Client: vc.Logical(), NewSecret: func(path, field string, _ fbvault.Format) (string, error) {
		b := make([]byte, 12)
		_, err := rand.Read(b)
		return testenv.Canary + "-" + hex.EncodeToString(b), err
	}})
	awsiam.Register(w, &awsiam.Activities{Client: ic, Secrets: fbvault.KVStore{Client: vc.Logical()}})
	evidence.Register(w, &evidence.Activities{Store: store})
	if err := w.Start(); err != nil {
		return err
	}
	if dir := os.Getenv("BENCH_HEAP_PROFILE"); dir != "" {
		stopProfiling := profileHeapPeak(filepath.Join(dir, fmt.Sprintf("worker-heap-%d.pprof", os.Getpid())))
		defer stopProfiling()
	}
	fmt.Println("ready")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	eof := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(eof) }()
	select {
	case <-stop:
	case <-eof:
	}
	w.Stop()
	return nil
}

// profileHeapPeak samples the heap every 200 ms and writes a heap profile to file each time
// the heap in use reaches a new high, so the file ends up describing the worker at its peak.
func profileHeapPeak(file string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var peak uint64
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse <= peak+peak/20 { // a new high by 5% at least, so writing stays rare
				continue
			}
			peak = ms.HeapInuse
			if f, err := os.Create(file); err == nil {
				_ = pprof.WriteHeapProfile(f)
				_ = f.Close()
			}
		}
	}()
	return func() { close(done); <-finished }
}

// rig is one embedded server and client; each run gets a fresh sandbox and worker process.
type rig struct {
	srv    *devserver.Server
	c      client.Client
	codec  *workflows.Codec
	keyHex string
	queue  string
	plan   *playbooks.Plan
	// batch is the interpreter's RunInput.BatchSize (and the hand-written workflow's); 0
	// splits only lists too long for one history.
	batch int
}

func newRig(tb testing.TB) *rig {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Stop() })
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	codec, err := workflows.NewCodec("bench", map[string][]byte{"bench": key})
	if err != nil {
		tb.Fatal(err)
	}
	codec = codec.WithNamespace(srv.Namespace()) // as the production worker's: ciphertexts name their namespace
	c, err := client.Dial(client.Options{HostPort: srv.FrontendHostPort(), Namespace: srv.Namespace(), DataConverter: workflows.DataConverter(codec),
		FailureConverter: workflows.FailureConverter(codec), Logger: quietLogger{}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		tb.Fatal(err)
	}
	plan, err := lib.Get("mass-deprovision")
	if err != nil {
		tb.Fatal(err)
	}
	return &rig{srv: srv, c: c, codec: codec, keyHex: hex.EncodeToString(key), queue: workflows.DrillTaskQueue + "/bench-" + rand.Text()[:8], plan: plan}
}

// childWorker is a running worker process.
type childWorker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *strings.Builder
	mu     *sync.Mutex
}

func (r *rig) startWorker(tb testing.TB, sb *testenv.Sandbox) *childWorker {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"=1",
		"BENCH_TEMPORAL="+r.srv.FrontendHostPort(), "BENCH_NAMESPACE="+r.srv.Namespace(), "BENCH_QUEUE="+r.queue, "BENCH_CODEC_KEY="+r.keyHex,
		"BENCH_VAULT="+sb.Vault.URL(), "BENCH_IAM="+sb.IAM.URL(), "BENCH_IAM_KEY="+sb.IAM.AccessKeyID(), "BENCH_IAM_SECRET="+sb.IAM.SecretAccessKey(),
		"BENCH_EVIDENCE="+tb.TempDir(), "BENCH_HEAP_PROFILE="+*massHeapProfile)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cw := &childWorker{cmd: cmd, stdin: stdin, stderr: &strings.Builder{}, mu: &sync.Mutex{}}
	cmd.Stderr = lockedWriter{cw.mu, cw.stderr}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	awaitReady(tb, cmd, stdout, func(line string) bool { return line == "ready" }, "worker process", cw.logs)
	return cw
}

func (cw *childWorker) logs() string {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return cw.stderr.String()
}

// stop ends the worker (stdin EOF, then a graceful worker stop) and waits for it.
func (cw *childWorker) stop(tb testing.TB) {
	_ = cw.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- cw.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			tb.Errorf("worker process: %v: %s", err, cw.logs())
		}
	case <-time.After(time.Minute):
		_ = cw.cmd.Process.Kill()
		tb.Errorf("worker process did not stop within a minute")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// massRun is what one run measured.
type massRun struct {
	mode           string // interpreter | hand-written | production
	wall           time.Duration
	peakRSS        int64   // the worker process's VmHWM
	idleRSS        int64   // the worker's resident set once ready, before the run
	mem            memPeak // the worker process's memory, sampled every 100 ms through the run
	events         int     // the run's own history (the parent's, when split into batches)
	batches        int     // child runs the run was split into
	batchEvents    int     // the longest batch history
	historyBytes   int
	largestEvent   int
	canaryInLog    bool
	canaryInHist   bool
	result         workflows.RunResult
	vaultOK, iamOK int // successful calls per service
	// refused says why the server kept refusing the run's workflow task (e.g. a result over
	// the payload size limit); wall then ends at the first refusal.
	refused string
}

// run deprovisions users with the interpreter (interp true) or the hand-written workflow, in
// a fresh worker process bound to sb, and measures it.
func (r *rig) run(tb testing.TB, sb *testenv.Sandbox, users []string, interp bool, id string) massRun {
	tb.Helper()
	cw := r.startWorker(tb, sb)
	mem := sampleMemory(cw.cmd.Process.Pid) // its first sample is the worker ready and idle
	ctx, cancel := context.WithTimeout(context.Background(), *massRunTimeout)
	defer cancel()
	opts := client.StartWorkflowOptions{ID: id, TaskQueue: r.queue}
	mr := massRun{mode: "hand-written"}
	t0 := time.Now()
	var run client.WorkflowRun
	var err error
	refused, stopWatch := r.watch(ctx, cancel, r.runIDs(id, len(users)))
	if interp {
		mr.mode = "interpreter"
		list := make([]any, len(users))
		for i, u := range users {
			list[i] = u
		}
		in := workflows.RunInput{Plan: *r.plan, Inputs: map[string]any{"users": list, "reason": "benchmark"}, Drill: true, AutoApprove: true,
			Trigger: workflows.Trigger{Kind: "drill", By: "bench", At: t0}, BatchSize: r.batch}
		run, err = r.c.ExecuteWorkflow(ctx, opts, workflows.Run, in)
		if err == nil {
			err = run.Get(ctx, &mr.result)
		}
	} else {
		// The same batches as the interpreter takes, when it splits the list.
		_, size := workflows.SplitBatches(*r.plan, map[string]any{"users": anyList(users), "reason": "benchmark"}, r.batch)
		run, err = r.c.ExecuteWorkflow(ctx, opts, massHandWrittenName, massHandWrittenInput{Users: users, Reason: "benchmark", Concurrency: massConcurrency, BatchSize: size})
		if err == nil {
			err = run.Get(ctx, nil)
		}
	}
	mr.wall = time.Since(t0)
	stopWatch()
	if refused.reason != "" {
		// The run did all its work but its workflow task kept failing: report when, and why.
		mr.refused = refused.reason
		mr.wall = refused.at.Sub(t0)
		err = nil
	}
	if err != nil {
		_, _ = mem.stop()
		cw.stop(tb)
		tb.Fatalf("%s run of %d users: %v\nworker log:\n%s", mr.mode, len(users), err, tail(cw.logs(), 4000))
	}
	if mr.mem, err = mem.stop(); err != nil {
		tb.Errorf("reading the worker's memory: %v", err)
	}
	mr.peakRSS, mr.idleRSS = mr.mem.HWM, mr.mem.Idle
	cw.stop(tb)
	mr.canaryInLog = testenv.ContainsCanary(cw.logs())
	r.readHistory(tb, run, &mr)
	mr.vaultOK, mr.iamOK = okCalls(sb)
	return mr
}

// anyList is users as a list input.
func anyList(users []string) []any {
	out := make([]any, len(users))
	for i, u := range users {
		out[i] = u
	}
	return out
}

// readHistory counts run's history events and bytes into mr, its batches' included when it
// was split (workflows.BatchWorkflowID), and scans the decrypted histories for the canary.
// events counts the parent's alone: it is the history that must stay within Temporal's limit.
func (r *rig) readHistory(tb testing.TB, run client.WorkflowRun, mr *massRun) {
	tb.Helper()
	r.readOneHistory(tb, run.GetID(), run.GetRunID(), mr)
	parent := mr.events
	for i := 0; ; i++ {
		before := mr.events
		r.readOneHistory(tb, workflows.BatchWorkflowID(run.GetID(), i), "", mr)
		if mr.events == before {
			break
		}
		mr.batches++
		mr.batchEvents = max(mr.batchEvents, mr.events-before)
	}
	mr.events = parent
}

// readOneHistory adds the history of workflow id (its latest run when runID is "") to mr; a
// workflow that does not exist adds nothing.
func (r *rig) readOneHistory(tb testing.TB, id, runID string, mr *massRun) {
	tb.Helper()
	ctx, cancelRead := context.WithTimeout(context.Background(), 5*time.Minute) // the run's ctx may be cancelled by watch
	defer cancelRead()
	it := r.c.GetWorkflowHistory(ctx, id, runID, false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			if runID == "" && strings.Contains(err.Error(), "not found") {
				return // no such batch
			}
			tb.Fatal(err)
		}
		mr.events++
		raw, _ := protojson.Marshal(ev)
		mr.historyBytes += len(raw)
		mr.largestEvent = max(mr.largestEvent, len(raw))
		if err := workflows.DecodeMessage(ctx, r.codec, ev); err != nil {
			tb.Fatalf("decoding history event %d: %v", ev.GetEventId(), err)
		}
		dec, _ := protojson.Marshal(ev)
		mr.canaryInHist = mr.canaryInHist || testenv.ContainsCanary(string(dec))
	}
}

// okCalls counts the sandbox's successful Vault and IAM calls.
func okCalls(sb *testenv.Sandbox) (vault, iam int) {
	for _, c := range sb.Recorder.Calls("vault") {
		if c.Status < 400 {
			vault++
		}
	}
	for _, c := range sb.Recorder.Calls("iam") {
		if c.Status < 400 {
			iam++
		}
	}
	return vault, iam
}

// refusal is a workflow task the server kept failing.
type refusal struct {
	reason string
	at     time.Time
}

// runIDs is the workflow id of a run of n users and, when the run splits the list into batch
// runs (workflows.SplitBatches), each batch's.
func (r *rig) runIDs(id string, n int) []string {
	ids := []string{id}
	users := make([]any, n)
	for i := range users {
		users[i] = "u"
	}
	if _, size := workflows.SplitBatches(*r.plan, map[string]any{"users": users, "reason": "benchmark"}, r.batch); size > 0 {
		for i := range (n + size - 1) / size {
			ids = append(ids, workflows.BatchWorkflowID(id, i))
		}
	}
	return ids
}

// watch polls the workflows ids (a run's and its batches', the run first); when one's workflow
// task has failed or timed out three times in a row it records the time of its first workflow
// task failure and the last one's workflow, cause and message, terminates the run (its batches with it) and cancels ctx, so a run that
// can never finish is reported rather than waited for.
func (r *rig) watch(ctx context.Context, cancel context.CancelFunc, ids []string) (ref *refusal, stop func()) {
	ref = &refusal{}
	ctx, stopWatch := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for _, id := range ids {
				d, err := r.c.DescribeWorkflowExecution(ctx, id, "")
				if err != nil || d.GetPendingWorkflowTask().GetAttempt() < 3 {
					continue
				}
				it := r.c.GetWorkflowHistory(ctx, id, "", false, 0)
				for it.HasNext() {
					ev, err := it.Next()
					if err != nil {
						break
					}
					// The last failure is the one that keeps happening; ref.at is the first, when
					// the run stopped making progress.
					if a := ev.GetWorkflowTaskFailedEventAttributes(); a != nil {
						_ = workflows.DecodeMessage(ctx, r.codec, ev)
						if ref.at.IsZero() {
							ref.at = ev.GetEventTime().AsTime()
						}
						ref.reason = fmt.Sprintf("%s: workflow task failed at event %d of %d: %s: %s", id, ev.GetEventId(), d.GetWorkflowExecutionInfo().GetHistoryLength(), a.GetCause(), a.GetFailure().GetMessage())
					}
					if a := ev.GetWorkflowTaskTimedOutEventAttributes(); a != nil {
						if ref.at.IsZero() {
							ref.at = ev.GetEventTime().AsTime()
						}
						ref.reason = fmt.Sprintf("%s: workflow task timed out (%s) at event %d of %d", id, a.GetTimeoutType(), ev.GetEventId(), d.GetWorkflowExecutionInfo().GetHistoryLength())
					}
				}
				_ = r.c.TerminateWorkflow(context.Background(), ids[0], "", "benchmark: workflow task keeps failing: "+ref.reason)
				cancel()
				return
			}
		}
	}()
	return ref, func() { stopWatch(); <-done }
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// deprovisioned checks the sandbox after a run: every one of users lost every credential,
// through exactly one successful call per credential (strict) or at least one, and nobody
// else was touched. It returns how many credential changes were repeated.
func deprovisioned(tb testing.TB, sb *testenv.Sandbox, users []string, strict bool) (doubled int) {
	tb.Helper()
	in := map[string]bool{}
	for _, u := range users {
		in[u] = true
	}
	revokes, disables, deactivates, policies := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	for _, c := range sb.Recorder.Calls("vault") {
		if c.Status >= 300 {
			continue
		}
		switch {
		case c.Op == "POST auth/token/revoke-accessor":
			if _, acc, ok := strings.Cut(c.Body, `"accessor":"`); ok {
				acc, _, _ = strings.Cut(acc, `"`)
				revokes[acc]++
			}
		case strings.HasPrefix(c.Op, "POST identity/entity/id/") && strings.Contains(c.Body, `"disabled":true`):
			disables[strings.TrimPrefix(c.Op, "POST identity/entity/id/")]++
		}
	}
	for _, c := range sb.Recorder.Calls("iam") {
		if c.Status >= 300 {
			continue
		}
		switch c.Op {
		case "UpdateAccessKey":
			deactivates[formValue(c.Body, "AccessKeyId")]++
		case "PutUserPolicy":
			policies[formValue(c.Body, "UserName")]++
		}
	}
	count := func(what, id string, got int, want bool) {
		switch {
		case want && got == 0:
			tb.Errorf("%s %s: no successful call in the sandbox's log; expected one", what, id)
		case want && got > 1:
			doubled += got - 1
			if strict {
				tb.Errorf("%s %s: %d successful calls in the sandbox's log; expected exactly one", what, id, got)
			}
		case !want && got > 0:
			tb.Errorf("%s %s belongs to someone not deprovisioned, yet had %d calls", what, id, got)
		}
	}
	for _, d := range sb.Org.Developers {
		want := in[d.Name]
		for _, t := range d.VaultTokens {
			count("revoke of token", t.Accessor, revokes[t.Accessor], want)
			if sb.Vault.TokenValid(t.Accessor) == want {
				tb.Errorf("%s token %s valid = %v after the run", d.Name, t.Accessor, !want)
			}
		}
		count("disable of entity of", d.Name, disables[sb.Vault.EntityID(d.Name)], want)
		if sb.Vault.EntityDisabled(d.Name) != want {
			tb.Errorf("%s entity disabled = %v after the run, want %v", d.Name, !want, want)
		}
		for _, k := range d.IAMKeys {
			count("deactivation of key", k.ID, deactivates[k.ID], want && k.Status == "Active")
			if st, _ := sb.IAM.KeyStatus(d.Name, k.ID); want && st != "Inactive" {
				tb.Errorf("%s key %s is %s after the run, want Inactive", d.Name, k.ID, st)
			}
		}
		count("revoke-sessions policy of", d.Name, policies[d.Name], want)
	}
	return doubled
}

func formValue(body, key string) string {
	for kv := range strings.SplitSeq(body, "&") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// TestMassDeprovisionSmall runs the benchmark's rig on a few developers — the interpreter and
// the hand-written workflow, each on a fresh sandbox — and checks what both did: every
// developer on the list deprovisioned exactly once, the two not on it untouched, each team's
// shared secrets rotated once, no canary in history or worker logs. No timing is asserted.
func TestMassDeprovisionSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server and two worker processes")
	}
	const n = 7
	r := newRig(t)
	users := testenv.MassDeveloperNames(n + 2)[:n]
	for _, interp := range []bool{true, false} {
		sb := testenv.NewSandbox(testenv.MassOrg(n + 2))
		mr := r.run(t, sb, users, interp, fmt.Sprintf("mass-small-%v", interp))
		t.Run(mr.mode, func(t *testing.T) {
			deprovisioned(t, sb, users, true)
			if interp {
				if mr.result.Outcome != workflows.OutcomeContained {
					t.Errorf("outcome %q, want contained: %s", mr.result.Outcome, mr.result.Error)
				}
				if want := len(r.plan.Expect); len(mr.result.Expectations) != want {
					t.Errorf("%d expectations evaluated, want the playbook's %d", len(mr.result.Expectations), want)
				}
				for _, e := range mr.result.Expectations {
					if !e.Passed {
						t.Errorf("expectation %q failed: %s", e.Name, e.Detail)
					}
				}
			}
			// Seven developers are in one team: its two secrets rotated once each.
			for _, s := range sb.Org.Secrets {
				if _, v, _ := sb.Vault.Secret(s.Mount, s.Path); v != 2 {
					t.Errorf("secret %s is at version %d, want 2 (rotated exactly once)", s.Path, v)
				}
			}
			if mr.canaryInHist {
				t.Errorf("the decrypted workflow history contains the canary")
			}
			if mr.canaryInLog {
				t.Errorf("the worker's log contains the canary")
			}
		})
		sb.Close()
	}

	// The same on the production worker: `firebreak worker` built as the Dockerfile builds it.
	exe := buildProduction(t)
	sb := testenv.NewSandbox(testenv.MassOrg(n + 2))
	defer sb.Close()
	mr := r.prodRun(t, exe, sb, users, "mass-small-production")
	deprovisioned(t, sb, users, true)
	if mr.result.Outcome != workflows.OutcomeContained {
		t.Errorf("production run: outcome %q, want contained: %s", mr.result.Outcome, mr.result.Error)
	}
	if len(mr.result.Decisions) == 0 || mr.result.Decisions[0].Approver != benchApprover {
		t.Errorf("production run: decisions %+v, expected the approval gate decided by %s", mr.result.Decisions, benchApprover)
	}
	for _, e := range mr.result.Expectations {
		if !e.Passed {
			t.Errorf("production run: expectation %q failed: %s", e.Name, e.Detail)
		}
	}
	if mr.canaryInHist || mr.canaryInLog {
		t.Errorf("production run: canary in history %v, in the worker's log %v", mr.canaryInHist, mr.canaryInLog)
	}
	if mr.mem.HWM == 0 || mr.mem.Anon == 0 || mr.mem.File == 0 {
		t.Errorf("production worker's memory not measured: %s", mr.mem)
	}
	t.Logf("production worker, %d users: %v wall; %s", n, mr.wall.Round(time.Millisecond), mr.mem)
}

// TestMassDeprovisionBatched runs the rig with the list split into batch runs of three: the
// interpreter and the hand-written workflow each deprovision every developer on the list
// exactly once, in child runs of at most three people, and nobody else.
func TestMassDeprovisionBatched(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server and two worker processes")
	}
	const n = 7
	r := newRig(t)
	r.batch = 3
	users := testenv.MassDeveloperNames(n + 2)[:n]
	for _, interp := range []bool{true, false} {
		sb := testenv.NewSandbox(testenv.MassOrg(n + 2))
		mr := r.run(t, sb, users, interp, fmt.Sprintf("mass-batched-%v", interp))
		t.Run(mr.mode, func(t *testing.T) {
			deprovisioned(t, sb, users, true)
			if mr.batches != 3 {
				t.Errorf("%d batch runs, want 3 (3+3+1)", mr.batches)
			}
			if interp {
				if mr.result.Outcome != workflows.OutcomeContained || len(mr.result.Batches) != 3 {
					t.Errorf("outcome %q with %d batches, want contained in 3: %s", mr.result.Outcome, len(mr.result.Batches), mr.result.Error)
				}
				for _, e := range mr.result.Expectations {
					if !e.Passed {
						t.Errorf("expectation %q failed: %s", e.Name, e.Detail)
					}
				}
			}
			if mr.canaryInHist || mr.canaryInLog {
				t.Errorf("canary in history %v, in the worker's log %v", mr.canaryInHist, mr.canaryInLog)
			}
		})
		sb.Close()
	}
}

// BenchmarkMassDeprovision deprovisions -mass.n developers (1,000) with the mass-deprovision
// playbook run by the interpreter and with the hand-written workflow of the same shape, each
// on a fresh sandbox and a fresh worker process of one embedded server, and reports wall
// times, their ratio, each worker process's peak RSS and the history's size. With
// -mass.production (the default) it then runs the playbook once more on the production
// worker — `firebreak worker` built with -tags noserver, as the Dockerfile builds it, with its
// approval answered — and reports that process's memory: VmHWM, and RssAnon and RssFile at
// the highest VmRSS sampled every 100 ms. That is the worker memory figure; the test binary's
// children link the whole Temporal server, about 110 MB more executable pages resident, and
// serve only the wall-time comparison. With -mass.ratelimited
// it then runs the playbook again with the sandbox enforcing IAM and Vault rate limits and
// reports the ratio of its wall time to the least time those limits allow for the calls it
// needed (successful calls ÷ rate, less the burst):
//
//	go test -run '^$' -bench Mass -benchtime 1x ./bench
func BenchmarkMassDeprovision(b *testing.B) {
	var exe string
	if *massProduction {
		exe = buildProduction(b)
	}
	r := newRig(b)
	n := *massN
	users := testenv.MassDeveloperNames(n)
	for i := 0; b.Loop(); i++ {
		if *massCompare {
			var runs []massRun // hand-written, then interpreter
			for _, interp := range []bool{false, true} {
				sb := testenv.NewSandbox(testenv.MassOrg(n))
				mr := r.run(b, sb, users, interp, fmt.Sprintf("mass-%d-%v", i, interp))
				doubled := deprovisioned(b, sb, users, false)
				sb.Close()
				logMassRun(b, mr, n, doubled)
				runs = append(runs, mr)
			}
			hand, interp := runs[0], runs[1]
			b.ReportMetric(interp.wall.Seconds(), "interp-s")
			b.ReportMetric(hand.wall.Seconds(), "hand-s")
			b.ReportMetric(interp.wall.Seconds()/hand.wall.Seconds(), "time-ratio")
			b.ReportMetric(float64(interp.peakRSS)/(1<<20), "interp-worker-MB")
			b.ReportMetric(float64(hand.peakRSS)/(1<<20), "hand-worker-MB")
			b.ReportMetric(float64(interp.events), "interp-events")
			b.ReportMetric(float64(hand.events), "hand-events")
			if interp.refused != "" {
				b.Errorf("the interpreter's run of %d users did not complete: %s", n, interp.refused)
			}
		}

		// The memory figure: the production worker, `firebreak worker` built with -tags
		// noserver as the Dockerfile builds it, on the production queue with the approval
		// answered. The two runs above are in this test binary re-executed, which links the
		// whole Temporal server; their wall times are the comparison, their memory is not
		// what a deployed worker uses.
		if *massProduction {
			sb := testenv.NewSandbox(testenv.MassOrg(n))
			mr := r.prodRun(b, exe, sb, users, fmt.Sprintf("mass-%d-production", i))
			doubled := deprovisioned(b, sb, users, false)
			sb.Close()
			if mr.result.Outcome != workflows.OutcomeContained {
				b.Errorf("production run of %d users: outcome %q, want contained: %s", n, mr.result.Outcome, mr.result.Error)
			}
			logMassRun(b, mr, n, doubled)
			b.ReportMetric(mr.wall.Seconds(), "prod-s")
			b.ReportMetric(float64(mr.mem.HWM)/(1<<20), "prod-worker-MB")
			b.ReportMetric(float64(mr.mem.Anon)/(1<<20), "prod-worker-anon-MB")
			b.ReportMetric(float64(mr.mem.File)/(1<<20), "prod-worker-file-MB")
		}

		if !*massRateLimited {
			continue
		}
		rn := *massRateN
		rusers := testenv.MassDeveloperNames(rn)
		sb := testenv.NewSandbox(testenv.MassOrg(rn))
		limits := testenv.RateLimits{IAM: testenv.Rate{PerSecond: *massIAMRate, Burst: int(*massIAMRate)}, Vault: testenv.Rate{PerSecond: *massVaultRate, Burst: int(*massVaultRate)}}
		rl := sb.LimitRates(limits)
		mr := r.run(b, sb, rusers, true, fmt.Sprintf("mass-%d-limited", i))
		rl.Clear()
		if mr.refused != "" {
			b.Errorf("the rate-limited run of %d users did not complete: the server refused its workflow task from %v on: %s", rn, mr.wall.Round(time.Millisecond), mr.refused)
		} else if mr.result.Outcome != workflows.OutcomeContained {
			b.Errorf("the rate-limited run of %d users: outcome %q, want contained: %s", rn, mr.result.Outcome, mr.result.Error)
		}
		doubled := deprovisioned(b, sb, rusers, false)
		sb.Close()
		iamOK, iamThrottled := rl.Counts("iam")
		vaultOK, vaultThrottled := rl.Counts("vault")
		bound := rl.Bound(map[string]int{"iam": iamOK, "vault": vaultOK})
		b.Logf("rate-limited %d users, IAM %s, Vault %s: %v wall; bound %v (IAM %d calls, %d throttled; Vault %d calls, %d throttled); worker peak RSS %.1f MB; %d repeated changes",
			rn, limits.IAM, limits.Vault, mr.wall.Round(time.Millisecond), bound.Round(time.Millisecond), iamOK, iamThrottled, vaultOK, vaultThrottled, float64(mr.peakRSS)/(1<<20), doubled)
		b.ReportMetric(mr.wall.Seconds(), "limited-s")
		b.ReportMetric(bound.Seconds(), "limited-bound-s")
		b.ReportMetric(mr.wall.Seconds()/bound.Seconds(), "limited-ratio")
	}
}

// logMassRun logs what one run of n users measured.
func logMassRun(b *testing.B, mr massRun, n, doubled int) {
	if mr.refused != "" {
		b.Logf("%s %d users: the server refused the run's workflow task from %v on: %s", mr.mode, n, mr.wall.Round(time.Millisecond), mr.refused)
	}
	if mr.batches > 0 {
		b.Logf("%s %d users: split into %d batch runs, the longest history %d events", mr.mode, n, mr.batches, mr.batchEvents)
	}
	b.Logf("%-12s %d users: %v wall, %d history events (%.1f MB as JSON, largest event %.0f KB), %d Vault and %d IAM calls, %d repeated changes, canary in history %v, in worker log %v; worker process: %s",
		mr.mode, n, mr.wall.Round(time.Millisecond), mr.events, float64(mr.historyBytes)/(1<<20), float64(mr.largestEvent)/1024, mr.vaultOK, mr.iamOK, doubled, mr.canaryInHist, mr.canaryInLog, mr.mem)
}

// quietLogger drops the SDK's logs: the benchmark reports what it measures itself.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

// awaitReady waits (at most a minute) for the child process cmd to print a line isReady
// accepts on stdout, then discards the rest of its output; it fails tb with the child's logs
// when the child exits first or takes too long.
func awaitReady(tb testing.TB, cmd *exec.Cmd, stdout io.Reader, isReady func(string) bool, what string, logs func() string) {
	tb.Helper()
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if isReady(sc.Text()) {
				ready <- nil
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- fmt.Errorf("%s exited before it was ready", what)
	}()
	select {
	case err := <-ready:
		if err != nil {
			_ = cmd.Wait()
			tb.Fatalf("%v: %s", err, logs())
		}
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		tb.Fatalf("%s not ready after a minute: %s", what, logs())
	}
}

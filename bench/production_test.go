package bench

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// The production worker is the firebreak binary as the Dockerfile builds it: -tags noserver,
// without the embedded Temporal server, so its resident set is what a deployed worker's is.
// The test binary's child worker above links the whole server (the bench itself embeds one),
// and about 110 MB of its resident set is pages of that larger executable.

// firebreakPkg is the command the production worker runs.
const firebreakPkg = "github.com/firebreak-dev/firebreak/cmd/firebreak"

// buildProduction builds firebreak with -tags noserver into a temporary directory (the go
// build cache makes a rebuild a link) and returns the executable's path.
func buildProduction(tb testing.TB) string {
	tb.Helper()
	exe := filepath.Join(tb.TempDir(), "firebreak")
	out, err := exec.Command("go", "build", "-tags", "noserver", "-o", exe, firebreakPkg).CombinedOutput()
	if err != nil {
		tb.Fatalf("go build -tags noserver %s: %v\n%s", firebreakPkg, err, out)
	}
	return exe
}

// prodWorker is a running `firebreak worker` process.
type prodWorker struct {
	cmd    *exec.Cmd
	stderr *strings.Builder
	mu     *sync.Mutex
}

// startProduction runs `firebreak worker` on the production task queue of r's server with
// every integration pointed at sb through the variables a deployment sets (as
// TestWorkerAndServeMetrics in cmd/firebreak does), and waits until it serves.
func (r *rig) startProduction(tb testing.TB, exe string, sb *testenv.Sandbox) *prodWorker {
	tb.Helper()
	key, err := hex.DecodeString(r.keyHex)
	if err != nil {
		tb.Fatal(err)
	}
	home := tb.TempDir()
	cmd := exec.Command(exe, "worker", "--log-level", "warn", "--evidence-dir", filepath.Join(home, "evidence"))
	// Later entries win over the inherited ones; "" means unset to firebreak and the SDKs.
	cmd.Env = append(os.Environ(),
		"HOME="+home, "FIREBREAK_STATE_DIR="+home, "FIREBREAK_CONFIG=", "FIREBREAK_LOG_FORMAT=", "FIREBREAK_METRICS_LISTEN=",
		"OTEL_EXPORTER_OTLP_ENDPOINT=", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=",
		"TEMPORAL_ADDRESS="+r.srv.FrontendHostPort(), "TEMPORAL_NAMESPACE="+r.srv.Namespace(),
		"TEMPORAL_TLS=", "TEMPORAL_TLS_CERT=", "TEMPORAL_TLS_KEY=", "TEMPORAL_TLS_CA=", "TEMPORAL_API_KEY=",
		"FIREBREAK_CODEC_KEY="+base64.StdEncoding.EncodeToString(key), "FIREBREAK_CODEC_KEY_ID=bench",
		// The worker counts decisions signed by the bench's decision key, as a production worker
		// counts those its serve signs; it holds only the public half.
		"FIREBREAK_DECISION_KEY=", "FIREBREAK_DECISION_PUBLIC_KEYS="+workflows.FormatDecisionPublicKey(benchDecisions.Public()),
		"VAULT_ADDR="+sb.Vault.URL(), "VAULT_TOKEN="+sb.Vault.RootToken(), "VAULT_NAMESPACE=", "VAULT_CACERT=",
		"VAULT_ROLE_ID=", "VAULT_SECRET_ID=", "VAULT_K8S_ROLE=",
		"AWS_ENDPOINT_URL_IAM="+sb.IAM.URL(), "AWS_ACCESS_KEY_ID="+sb.IAM.AccessKeyID(), "AWS_SECRET_ACCESS_KEY="+sb.IAM.SecretAccessKey(),
		"AWS_SESSION_TOKEN=", "AWS_REGION=us-east-1", "AWS_PROFILE=", "AWS_CONFIG_FILE="+filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "aws-credentials"), "AWS_EC2_METADATA_DISABLED=true", "FIREBREAK_EVIDENCE_S3=",
		"SLACK_BOT_TOKEN="+sb.Slack.BotToken(), "SLACK_API_URL="+sb.Slack.URL()+"/api/",
		"PAGERDUTY_TOKEN="+sb.PagerDuty.Token(), "PAGERDUTY_API_URL="+sb.PagerDuty.URL(), "PAGERDUTY_FROM="+testenv.PagerDutyBotEmail,
		"FIREBREAK_HTTP_SERVICES="+sb.HTTPServicesJSON(), "OIDC_ISSUER=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	pw := &prodWorker{cmd: cmd, stderr: &strings.Builder{}, mu: &sync.Mutex{}}
	cmd.Stderr = lockedWriter{pw.mu, pw.stderr}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	awaitReady(tb, cmd, stdout, func(line string) bool {
		return strings.HasPrefix(line, "firebreak worker serving task queue "+workflows.TaskQueue)
	}, "firebreak worker", pw.logs)
	return pw
}

func (pw *prodWorker) logs() string {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.stderr.String()
}

// stop sends SIGTERM, as a deployment's rolling restart does, and waits for the worker to
// drain and exit.
func (pw *prodWorker) stop(tb testing.TB) {
	_ = pw.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- pw.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			tb.Errorf("firebreak worker: %v: %s", err, tail(pw.logs(), 4000))
		}
	case <-time.After(time.Minute):
		_ = pw.cmd.Process.Kill()
		<-done
		tb.Errorf("firebreak worker did not stop within a minute of SIGTERM")
	}
}

// benchApprover is the security lead who approves the production runs; not the requester
// ("bench") and not one of the people deprovisioned.
const benchApprover = "bench-security-lead"

// benchDecisions signs the bench's decisions as firebreak serve would: production workers count
// only signed decisions. A fixed test key (the seed is no secret), trusted by no real worker.
var benchDecisions = workflows.NewSigner(ed25519.NewKeyFromSeed([]byte("firebreak-bench-decision-key-32b")))

// prodRun deprovisions users with the mass-deprovision playbook on `firebreak worker` (exe,
// built by buildProduction) bound to sb. The run starts on the production task queue with
// the input `firebreak run mass-deprovision users=… --reason benchmark` gives it (no Slack
// channel or incident, like the drill runs of run); its approval gate is answered through
// the approval Update as a security lead's Slack button would, polled every 100 ms, so wall
// includes up to that much waiting. The worker process's memory is sampled throughout.
func (r *rig) prodRun(tb testing.TB, exe string, sb *testenv.Sandbox, users []string, id string) massRun {
	tb.Helper()
	inputs, err := r.plan.BindInputs(map[string]string{"users": strings.Join(users, ","), "reason": "benchmark"})
	if err != nil {
		tb.Fatal(err)
	}
	pw := r.startProduction(tb, exe, sb)
	mem := sampleMemory(pw.cmd.Process.Pid)
	ctx, cancel := context.WithTimeout(context.Background(), *massRunTimeout)
	defer cancel()
	mr := massRun{mode: "production"}
	t0 := time.Now()
	ids := r.runIDs(id, len(users)) // and each batch's, when the run splits the list
	refused, stopWatch := r.watch(ctx, cancel, ids)
	answered := make(chan struct{})
	answerCtx, stopAnswering := context.WithCancel(ctx)
	go func() { defer close(answered); r.approveAll(answerCtx, ids) }()
	// Started as the front end starts runs: the trigger signed with the bench's decision key
	// (an unsigned one would make each gate ask one more approver).
	in := benchDecisions.SignTrigger(workflows.RunInput{
		Plan: *r.plan, Inputs: inputs, Trigger: workflows.Trigger{Kind: "cli", By: "bench", Reason: "benchmark", At: t0.UTC()},
	}, id, time.Now())
	run, err := r.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, workflows.Run, in)
	if err == nil {
		err = run.Get(ctx, &mr.result)
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == workflows.ErrRunFailed && appErr.HasDetails() {
			_ = appErr.Details(&mr.result)
			err = fmt.Errorf("run failed: %s", mr.result.Error)
		}
	}
	mr.wall = time.Since(t0)
	stopAnswering()
	<-answered
	stopWatch()
	if refused.reason != "" {
		mr.refused = refused.reason
		mr.wall = refused.at.Sub(t0)
		err = nil
		tb.Logf("production run %s refused (%s); worker log:\n%s", id, refused.reason, tail(pw.logs(), 8000))
	}
	var memErr error
	mr.mem, memErr = mem.stop()
	mr.peakRSS, mr.idleRSS = mr.mem.HWM, mr.mem.Idle
	pw.stop(tb)
	if err != nil {
		tb.Fatalf("production run of %d users: %v\nworker log:\n%s", len(users), err, tail(pw.logs(), 4000))
	}
	if memErr != nil {
		tb.Errorf("reading the production worker's memory: %v", memErr)
	}
	mr.canaryInLog = testenv.ContainsCanary(pw.logs())
	r.readHistory(tb, run, &mr)
	mr.vaultOK, mr.iamOK = okCalls(sb)
	return mr
}

// approveAll approves every pending approval of the runs ids, as a security lead, until ctx
// ends: the pending-decision watcher, polling every 100 ms, offers each gate again after each
// approval it counts, and each offer is answered by one more distinct approver with a signed
// decision as firebreak serve sends one. (A run the bench starts has a claimed requester: no
// front end signed its trigger, so each gate needs one more approver than the playbook says.)
func (r *rig) approveAll(ctx context.Context, ids []string) {
	rc := &runs.Client{Temporal: r.c, Signer: benchDecisions}
	runs.WatchPending(ctx, rc, ids, 100*time.Millisecond, func(id string, p workflows.PendingApproval) bool {
		approver := benchApprover
		if p.Approvals > 0 {
			approver = fmt.Sprintf("%s-%d", benchApprover, p.Approvals+1)
		}
		_, err := rc.Decide(ctx, id, workflows.ApprovalRequest{Step: p.Step, Approver: approver, ApproverRoles: p.Roles[:min(1, len(p.Roles))], Decision: workflows.DecisionApprove, Reason: "benchmark"})
		return err == nil
	})
}

// TestProductionBuildHasNoServer runs the production binary where it would need the embedded
// server it lacks: `firebreak run` without TEMPORAL_ADDRESS fails as a usage error (exit 2)
// saying so, rather than starting anything.
func TestProductionBuildHasNoServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds firebreak with -tags noserver")
	}
	exe := buildProduction(t)
	home := t.TempDir()
	for _, args := range [][]string{
		{"run", "compromised-dev-key", "subject=alice", "--evidence-dir", filepath.Join(home, "evidence")},
		{"dev", "--state-dir", home, "--listen", "127.0.0.1:0", "--temporal-port", "0"},
	} {
		cmd := exec.Command(exe, args...)
		cmd.Env = append(os.Environ(), "HOME="+home, "FIREBREAK_STATE_DIR="+home, "FIREBREAK_CONFIG=", "TEMPORAL_ADDRESS=", "FIREBREAK_CODEC_KEY=")
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("firebreak %s without TEMPORAL_ADDRESS: expected exit 2, found %v\n%s", args[0], err, out)
		}
		if want := "built without the embedded Temporal server (-tags noserver): set TEMPORAL_ADDRESS"; !strings.Contains(string(out), want) {
			t.Errorf("firebreak %s without TEMPORAL_ADDRESS: expected %q in its output, found:\n%s", args[0], want, out)
		}
	}
}

package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"gopkg.in/yaml.v3"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/testenv/devserver"
	"github.com/firebreak-dev/firebreak/workflows"
)

var chaosAll = flag.Bool("chaos-all", false, "kill the worker at every step boundary of every bundled playbook, not only compromised-dev-key")

// TestWorkerKilledAtEveryStepBoundary runs the production worker as its own process
// (`firebreak worker`), SIGKILLs it as soon as the k-th step of compromised-dev-key has
// finished, for every k, starts a new one, and checks the run still contains the subject with
// no side effect doubled: each shared secret rotated once, each Slack message and PagerDuty
// note posted once, one evidence record per snapshot. -chaos-all does it for every bundled
// playbook.
func TestWorkerKilledAtEveryStepBoundary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills worker processes")
	}
	bin := filepath.Join(t.TempDir(), "firebreak")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building firebreak: %v\n%s", err, out)
	}
	ctx := context.Background()
	srv, err := devserver.Start(ctx, devserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	key := base64.StdEncoding.EncodeToString([]byte("chaos-test-key-0123456789abcdef!"))
	t.Setenv("FIREBREAK_CODEC_KEY", key)
	t.Setenv("TEMPORAL_ADDRESS", srv.FrontendHostPort())
	t.Setenv("FIREBREAK_STATE_DIR", t.TempDir())
	trustTestSigner(t)
	conn, err := dialTemporal(ctx, settingsFrom(ctx), newDiscardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	bundled, _ := playbooks.LoadLibrary("")
	names := []string{"compromised-dev-key"}
	if *chaosAll {
		names = bundled.Names()
	}
	// The workers run only plans their own library compiles, so the short timeouts are
	// written into the playbooks of a directory they load too (FIREBREAK_PLAYBOOKS).
	dir := shortTimeoutPlaybooks(t, names)
	t.Setenv("FIREBREAK_PLAYBOOKS", dir)
	lib, err := playbooks.LoadLibrary(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		p, _ := lib.Get(name)
		for k := 1; k <= len(p.Steps); k++ {
			t.Run(fmt.Sprintf("%s/after-step-%d", name, k), func(t *testing.T) {
				chaosRun(t, conn, bin, *p, k)
			})
		}
	}
}

// shortTimeoutPlaybooks writes the bundled playbooks names into a directory with a 3 s
// timeout on every step that runs an activity, so an activity lost with the killed worker is
// retried within seconds rather than after its production timeout (a manual step's timeout
// is how long people have, and stays).
func shortTimeoutPlaybooks(t *testing.T, names []string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range names {
		src, err := os.ReadFile(filepath.Join("..", "..", "playbooks", "library", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(src, &doc); err != nil {
			t.Fatal(err)
		}
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value != "steps" {
				continue
			}
			for _, st := range root.Content[i+1].Content {
				action := ""
				for j := 0; j+1 < len(st.Content); j += 2 {
					if st.Content[j].Value == "action" {
						action = st.Content[j+1].Value
					}
				}
				if a, ok := playbooks.LookupAction(action); !ok || a.Builtin {
					continue
				}
				set := false
				for j := 0; j+1 < len(st.Content); j += 2 {
					if st.Content[j].Value == "timeout" {
						st.Content[j+1].Value, set = "3s", true
					}
				}
				if !set {
					st.Content = append(st.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "timeout"}, &yaml.Node{Kind: yaml.ScalarNode, Value: "3s"})
				}
			}
		}
		out, err := yaml.Marshal(&doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), out, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func chaosRun(t *testing.T, conn *temporalConn, bin string, plan playbooks.Plan, k int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	evDir := t.TempDir()
	env := append(os.Environ(),
		"VAULT_ADDR="+sb.Vault.URL(), "VAULT_TOKEN="+sb.Vault.RootToken(),
		"AWS_ENDPOINT_URL_IAM="+sb.IAM.URL(), "AWS_ACCESS_KEY_ID="+sb.IAM.AccessKeyID(), "AWS_SECRET_ACCESS_KEY="+sb.IAM.SecretAccessKey(),
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE="+filepath.Join(evDir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(evDir, "none"),
		"SLACK_BOT_TOKEN="+sb.Slack.BotToken(), "SLACK_API_URL="+sb.Slack.URL()+"/api/",
		"PAGERDUTY_TOKEN="+sb.PagerDuty.Token(), "PAGERDUTY_API_URL="+sb.PagerDuty.URL(), "PAGERDUTY_FROM="+testenv.PagerDutyBotEmail,
		"OIDC_ISSUER="+sb.OIDC.URL(), "OIDC_CLIENT_ID="+testenv.OIDCClientID, "OIDC_CLIENT_SECRET="+sb.OIDC.ClientSecret(),
		"FIREBREAK_HTTP_SERVICES="+sb.HTTPServicesJSON(),
	)
	startWorker := func() *exec.Cmd {
		w := exec.Command(bin, "worker", "--evidence-dir", evDir, "--log-level", "error")
		w.Env = env
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		return w
	}
	raw := map[string]string{}
	for k, v := range plan.DrillInputs() {
		raw[k] = v
	}
	if _, ok := raw["subject"]; !ok && plan.HasInput("subject") {
		raw["subject"] = "alice"
	}
	inputs, err := plan.BindInputs(raw)
	if err != nil {
		t.Fatal(err)
	}
	w := startWorker()
	id := fmt.Sprintf("chaos/%s/%d/%d", plan.Name, k, time.Now().UnixNano())
	run, err := conn.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue, WorkflowTaskTimeout: 2 * time.Second}, workflows.Run,
		workflows.RunInput{Plan: plan, Inputs: inputs, Trigger: workflows.Trigger{Kind: "cli", By: "chaos-test"},
			Report: workflows.Report{SlackChannel: testenv.DrillChannel, PagerDutyIncident: testenv.DrillIncident}})
	if err != nil {
		t.Fatal(err)
	}
	// Approvals and manual steps are answered as people would, by responders other than the
	// requester, through the same Update as Slack's buttons — before and after the kill.
	answerCtx, stopAnswering := context.WithCancel(ctx)
	defer stopAnswering()
	go answerPending(answerCtx, conn.Client, id)
	// Kill the worker the moment k steps have finished.
	for done := 0; done < k; {
		v, err := conn.Client.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
		if err == nil {
			var res workflows.RunResult
			_ = v.Get(&res)
			done = 0
			for _, s := range res.Steps {
				if s.Status == workflows.StatusSucceeded || s.Status == workflows.StatusSkipped || s.Status == workflows.StatusFailed {
					done++
				}
			}
			if res.Outcome != workflows.OutcomeRunning {
				break
			}
		}
		select { // poll the run's status query every 20 ms until the kill point
		case <-ctx.Done():
			t.Fatal("the run never reached the kill point")
		case <-time.After(20 * time.Millisecond):
		}
	}
	_ = w.Process.Signal(syscall.SIGKILL)
	_ = w.Wait()
	w = startWorker()
	defer func() { _ = w.Process.Signal(syscall.SIGKILL); _ = w.Wait() }()

	var res workflows.RunResult
	err = run.Get(ctx, &res)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.HasDetails() {
		_ = appErr.Details(&res)
	}
	if err != nil || res.Outcome != workflows.OutcomeContained {
		t.Fatalf("after a SIGKILL at step %d: %v %s %s", k, err, res.Outcome, res.Error)
	}
	// Nothing done twice.
	for _, sec := range sb.Org.Secrets {
		if _, v, ok := sb.Vault.Secret(sec.Mount, sec.Path); ok && v > 2 {
			t.Errorf("%s/%s rotated %d times", sec.Mount, sec.Path, v-1)
		}
	}
	seen := map[string]bool{}
	for _, m := range sb.Slack.Messages(testenv.DrillChannel) {
		if m.Metadata == nil {
			continue
		}
		key := fmt.Sprint(m.Metadata.EventPayload["key"])
		if seen[key] {
			t.Errorf("Slack message %s posted twice", key)
		}
		seen[key] = true
	}
	notes := map[string]bool{}
	for _, n := range sb.PagerDuty.Notes(testenv.DrillIncident) {
		lines := strings.Split(strings.TrimSpace(n.Content), "\n")
		marker := lines[len(lines)-1]
		if !strings.HasPrefix(marker, pagerduty.Marker("")[:len(pagerduty.Marker(""))-1]) {
			continue
		}
		if notes[marker] {
			t.Errorf("PagerDuty note %s posted twice", marker)
		}
		notes[marker] = true
	}
	recs, err := evidence.ReadFile(filepath.Join(evDir, "evidence.jsonl"))
	if err != nil || evidence.Verify(recs) != nil {
		t.Fatalf("evidence: %v", err)
	}
	keys := map[string]bool{}
	for _, r := range recs {
		if keys[r.Key] {
			t.Errorf("evidence %s recorded twice", r.Key)
		}
		keys[r.Key] = true
	}
}

// answerPending approves every pending approval, manual step and escalation of run id until
// ctx ends, each decision by a different responder holding the step's first role.
func answerPending(ctx context.Context, c client.Client, id string) {
	n := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
		v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryPending)
		if err != nil {
			continue
		}
		var pending []workflows.PendingApproval
		if v.Get(&pending) != nil {
			continue
		}
		for _, p := range pending {
			n++
			req := workflows.ApprovalRequest{Step: p.Step, Approver: fmt.Sprintf("responder-%d", n), ApproverRoles: p.Roles[:min(1, len(p.Roles))], Decision: workflows.DecisionApprove, Reason: "chaos test"}
			_, _ = (&runs.Client{Temporal: c, Signer: testDecisionSigner}).Decide(ctx, id, req)
		}
	}
}

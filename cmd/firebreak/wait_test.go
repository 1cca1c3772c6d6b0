package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// sandboxRunEnv points `firebreak run` at a sandbox through the vendors' own variables and
// returns its state directory.
func sandboxRunEnv(t *testing.T) string {
	t.Helper()
	sb := testenv.NewSandbox(nil)
	t.Cleanup(sb.Close)
	home := t.TempDir()
	for k, v := range map[string]string{
		"TEMPORAL_ADDRESS": "", "FIREBREAK_STATE_DIR": home, "FIREBREAK_CODEC_KEY": "",
		"VAULT_ADDR": sb.Vault.URL(), "VAULT_TOKEN": sb.Vault.RootToken(), "VAULT_NAMESPACE": "",
		"AWS_ENDPOINT_URL_IAM": sb.IAM.URL(), "AWS_ACCESS_KEY_ID": sb.IAM.AccessKeyID(), "AWS_SECRET_ACCESS_KEY": sb.IAM.SecretAccessKey(),
		"AWS_REGION": "us-east-1", "AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(home, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "FIREBREAK_EVIDENCE_S3": "",
	} {
		t.Setenv(k, v)
	}
	return home
}

// TestTimeoutBoundsTheWaitNotTheRun: --timeout is how long the command waits. It used to be
// the run's execution timeout, so `run … --timeout 1s` killed the run and printed a blank
// scorecard; a negative one was accepted.
func TestTimeoutBoundsTheWaitNotTheRun(t *testing.T) {
	for _, args := range [][]string{
		{"run", "compromised-dev-key", "subject=bob", "--timeout", "-1s"},
		{"action", "run", "vault.inventory", "subject=bob", "--timeout", "-1s"},
		{"drill", "run", "compromised-dev-key", "--timeout", "-1s"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "--timeout: expected a duration of zero") {
			t.Errorf("firebreak %s: exit %d, want 2 refusing the negative timeout:\n%s", strings.Join(args, " "), code, stderr.String())
		}
	}
	home := sandboxRunEnv(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "compromised-dev-key", "subject=bob", "--timeout", "300ms", "--evidence-dir", filepath.Join(home, "evidence")}, &stdout, &stderr)
	out := stdout.String() + stderr.String()
	if code != exitFailed || !strings.Contains(out, "stopped waiting (--timeout 300ms passed)") || !strings.Contains(out, "embedded Temporal server") {
		t.Fatalf("exit %d, want 1 saying it stopped waiting and what becomes of the run:\n%s", code, out)
	}
	if strings.Contains(out, "subject=-") || !strings.Contains(out, "bob") {
		t.Fatalf("the scorecard after stopping to wait is blank; want the run as far as it got:\n%s", out)
	}
}

// TestRunDurationIsTheRunsOwn: a run's scorecard reports how long the run took (a 27 s run
// used to say "in 0s").
func TestRunDurationIsTheRunsOwn(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	card := drills.Scorecard{RunResult: workflows.RunResult{Playbook: "p", Subject: "bob", StartedAt: start, EndedAt: start.Add(27 * time.Second), Outcome: workflows.OutcomeContained}, Passed: true}
	card.Elapsed = runElapsed(card.RunResult)
	var b bytes.Buffer
	drills.PrintScorecard(&b, card)
	if !strings.Contains(b.String(), "in 27s") {
		t.Fatalf("scorecard lacks the run's 27 s:\n%s", b.String())
	}
}

// TestDrillTimeoutCancelsItsRun: a drill whose command stops waiting (--timeout here, Ctrl-C
// alike) cancels its run, whose worker is the command, and says so — it used to leave the run
// with no worker, to time out unannounced minutes later.
func TestDrillTimeoutCancelsItsRun(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	var stdout, stderr bytes.Buffer
	// Without auto-approve the drill waits at its two-person gate for a participant.
	code := run([]string{"drill", "run", "compromised-dev-key", "--auto-approve=false", "--timeout", "4s", "--evidence-dir", t.TempDir()}, &stdout, &stderr)
	out := stdout.String() + stderr.String()
	if code != exitFailed || !strings.Contains(out, "--timeout 4s passed") || !strings.Contains(out, "was cancelled") {
		t.Fatalf("exit %d, want 1 saying the run was cancelled:\n%s", code, out)
	}
}

// TestReasonAsInput: README's `firebreak run … reason="key in a public gist"` fills the run's
// trigger reason (what Slack, PagerDuty and the audit show), as --reason does; it used to be
// lost. Both, differing, is bad usage.
func TestReasonAsInput(t *testing.T) {
	home := sandboxRunEnv(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "compromised-dev-key", "subject=bob", "reason=a", "--reason", "b"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "reason given twice") {
		t.Fatalf("exit %d, want 2: %s", code, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	run([]string{"run", "compromised-dev-key", "subject=bob", "reason=key in a public gist", "--timeout", "300ms", "--json", "--evidence-dir", filepath.Join(home, "evidence")}, &stdout, &stderr)
	var card drills.Scorecard
	if err := json.Unmarshal(stdout.Bytes(), &card); err != nil {
		t.Fatalf("%v: %s%s", err, stdout.String(), stderr.String())
	}
	if card.Trigger.Reason != "key in a public gist" {
		t.Fatalf("trigger reason %q; want the reason= input", card.Trigger.Reason)
	}
}

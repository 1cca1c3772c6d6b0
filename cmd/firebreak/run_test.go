package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// TestRunAgainstConfiguredEndpoints is the production path end to end: `firebreak run` with
// the vendors' own environment variables (VAULT_ADDR, AWS_ENDPOINT_URL_IAM, …) pointing at
// sandbox servers, as they would point at real ones, on the production task queue. The run
// stops at a two-person gate and an owner's manual step; the command says where its embedded
// server listens, and a holder of a decision key the worker trusts answers them there.
func TestRunAgainstConfiguredEndpoints(t *testing.T) {
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	objects := testenv.NewS3(nil) // the evidence goes to write-once S3 objects
	defer objects.Close()
	home := t.TempDir()
	codecKey := make([]byte, 32)
	_, _ = rand.Read(codecKey)
	codec, err := workflows.NewCodec("k1", map[string][]byte{"k1": codecKey})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"TEMPORAL_ADDRESS": "", "FIREBREAK_STATE_DIR": home, "FIREBREAK_CODEC_KEY": base64.StdEncoding.EncodeToString(codecKey), "FIREBREAK_CODEC_KEY_ID": "",
		"FIREBREAK_DECISION_PUBLIC_KEYS": workflows.FormatDecisionPublicKey(testDecisions.Public()), "FIREBREAK_DECISION_KEY": "", "FIREBREAK_CONFIG": "",
		"VAULT_ADDR": sb.Vault.URL(), "VAULT_TOKEN": sb.Vault.RootToken(), "VAULT_NAMESPACE": "",
		"AWS_ENDPOINT_URL_IAM": sb.IAM.URL(), "AWS_ACCESS_KEY_ID": sb.IAM.AccessKeyID(), "AWS_SECRET_ACCESS_KEY": sb.IAM.SecretAccessKey(),
		"AWS_REGION": "us-east-1", "AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(home, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED": "true",
		"SLACK_BOT_TOKEN":           sb.Slack.BotToken(), "SLACK_API_URL": sb.Slack.URL() + "/api/",
		"PAGERDUTY_TOKEN": sb.PagerDuty.Token(), "PAGERDUTY_API_URL": sb.PagerDuty.URL(), "PAGERDUTY_FROM": testenv.PagerDutyBotEmail,
		"FIREBREAK_EVIDENCE_S3": "s3://evidence/firebreak", "AWS_ENDPOINT_URL_S3": objects.URL(), "FIREBREAK_S3_PATH_STYLE": "true",
	} {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout bytes.Buffer
	stderr := newWatchWriter()
	var code int
	ended := make(chan error) // closed when the command has returned code
	go func() {
		defer close(ended)
		code = run([]string{"run", "compromised-dev-key", "subject=bob", "--reason", "key pasted in a public gist",
			"--slack-channel", "C0SECOPS", "--incident", testenv.DrillIncident, "--json", "--evidence-dir", filepath.Join(home, "evidence")}, &stdout, stderr)
	}()
	addr := stderr.waitFor(t, regexp.MustCompile(`waits for a signed decision on manual owners_rotate .* decide from another shell with TEMPORAL_ADDRESS=(\S+) and this command's FIREBREAK_CODEC_KEY`), ended)
	gctx, stopGates := context.WithCancel(ctx)
	approvedCh := answerGates(gctx, t, addr, "default", codec, workflows.IncidentWorkflowID(testenv.DrillIncident))
	select {
	case <-ended:
	case <-ctx.Done():
		t.Fatalf("firebreak run did not end:\n%s", stderr.String())
	}
	stopGates()
	approved := <-approvedCh
	if !slices.Contains(approved, "owners_rotate") { // bob reads no secret firebreak rotates: no two-person gate
		t.Errorf("approved %v; expected the owners' manual step\n%s", approved, stderr.String())
	}
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	var card drills.Scorecard
	if err := json.Unmarshal(stdout.Bytes(), &card); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if card.Drill || card.Outcome != workflows.OutcomeContained || card.WorkflowID != workflows.IncidentWorkflowID(testenv.DrillIncident) {
		t.Fatalf("run: drill=%v outcome=%s id=%s error=%s", card.Drill, card.Outcome, card.WorkflowID, card.Error)
	}
	if sb.Vault.TokenValid("acc-bob-laptop") || !sb.Vault.EntityDisabled("bob") {
		t.Error("bob's Vault access was not cut off")
	}
	if st, _ := sb.IAM.KeyStatus("bob", "AKFBSANDBOXBOB000001"); st != "Inactive" {
		t.Errorf("bob's key is %s", st)
	}
	if mode, until, ok := objects.ObjectLock("evidence", "firebreak/000000000001.json"); !ok || mode != "COMPLIANCE" || until.Before(time.Now().AddDate(6, 0, 0)) {
		t.Errorf("evidence record 1 in S3: lock %q until %v (found %v)", mode, until, ok)
	}
	if len(sb.Slack.Messages("C0SECOPS")) == 0 || len(sb.PagerDuty.Notes(testenv.DrillIncident)) == 0 {
		t.Error("the run did not report in Slack and PagerDuty")
	}
	for _, n := range sb.PagerDuty.Notes(testenv.DrillIncident) {
		if strings.Contains(n.Content, testenv.Canary) {
			t.Error("a PagerDuty note holds a secret")
		}
	}
	for _, m := range sb.Slack.Messages("C0SECOPS") {
		if strings.Contains(m.Text, testenv.Canary) {
			t.Error("a Slack message holds a secret")
		}
	}
	if testenv.ContainsCanary(stdout.String() + stderr.String()) {
		t.Error("output holds a secret")
	}
}

func TestWorkerNeedsACluster(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"worker"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "TEMPORAL_ADDRESS") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/testenv/devserver"
	"github.com/firebreak-dev/firebreak/workflows"
)

// TestStatusShowsRetryingStep runs compromised-dev-key on a production worker while the
// sandbox IAM throttles every call: the waiting `firebreak run` prints each new attempt of the
// IAM inventory with its error, and `firebreak status RUN` (text and --json) shows the step's
// attempt count, last error and next attempt. When IAM answers again the run goes on and
// contains.
func TestStatusShowsRetryingStep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	var iamDown atomic.Bool
	iamDown.Store(true)
	sb.IAM.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if !iamDown.Load() {
			return false
		}
		testenv.WriteIAMError(w, "Throttling", "Rate exceeded")
		return true
	})
	home := t.TempDir()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	for k, v := range map[string]string{
		"TEMPORAL_ADDRESS": srv.FrontendHostPort(), "TEMPORAL_NAMESPACE": srv.Namespace(), "FIREBREAK_STATE_DIR": home,
		"FIREBREAK_CODEC_KEY": base64.StdEncoding.EncodeToString(key), "FIREBREAK_CODEC_KEY_ID": "", "FIREBREAK_LOG_FORMAT": "", "FIREBREAK_METRICS_LISTEN": "",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
		"VAULT_ADDR": sb.Vault.URL(), "VAULT_TOKEN": sb.Vault.RootToken(), "VAULT_NAMESPACE": "",
		"AWS_ENDPOINT_URL_IAM": sb.IAM.URL(), "AWS_ACCESS_KEY_ID": sb.IAM.AccessKeyID(), "AWS_SECRET_ACCESS_KEY": sb.IAM.SecretAccessKey(),
		"AWS_REGION": "us-east-1", "AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(home, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "FIREBREAK_EVIDENCE_S3": "",
		"SLACK_BOT_TOKEN": sb.Slack.BotToken(), "SLACK_API_URL": sb.Slack.URL() + "/api/",
		"PAGERDUTY_TOKEN": sb.PagerDuty.Token(), "PAGERDUTY_API_URL": sb.PagerDuty.URL(), "PAGERDUTY_FROM": testenv.PagerDutyBotEmail,
		"FIREBREAK_CONFIG": "", "FIREBREAK_DECISION_KEY": "", "FIREBREAK_DECISION_PUBLIC_KEYS": workflows.FormatDecisionPublicKey(testDecisions.Public()),
	} {
		t.Setenv(k, v)
	}
	wctx, stopWorker := context.WithCancel(ctx)
	wout, werr := newWatchWriter(), newWatchWriter()
	wdone := make(chan error, 1)
	go func() {
		root := newRoot(wout, werr)
		root.SetArgs([]string{"worker", "--evidence-dir", filepath.Join(home, "evidence")})
		wdone <- root.ExecuteContext(wctx)
	}()
	defer func() {
		stopWorker()
		<-wdone
	}()
	wout.waitFor(t, regexp.MustCompile(`(firebreak worker serving)`), wdone)

	id := workflows.IncidentWorkflowID(testenv.DrillIncident)
	var stdout bytes.Buffer
	stderr := newWatchWriter()
	var code int
	ended := make(chan error)
	go func() {
		defer close(ended)
		code = runContext(ctx, []string{"run", "compromised-dev-key", "subject=bob", "--reason", "status test",
			"--incident", testenv.DrillIncident, "--json"}, &stdout, stderr)
	}()
	// The waiting command shows the retries as they happen.
	stderr.waitFor(t, regexp.MustCompile(`retrying (iam_keys: attempt [2-9]\d*, last error: .*Rate exceeded)`), ended)

	var out, errOut bytes.Buffer
	if c := run([]string{"status", id}, &out, &errOut); c != exitOK {
		t.Fatalf("firebreak status: exit %d\n%s%s", c, out.String(), errOut.String())
	}
	if !regexp.MustCompile(`Retrying:\n\s+iam_keys: attempt [2-9]\d*, last error: [^\n]*Rate exceeded; (next attempt at|attempt \d+ under way since) \d\d:\d\d:\d\d`).MatchString(out.String()) {
		t.Errorf("firebreak status does not show iam_keys's attempts and last error:\n%s", out.String())
	}
	out.Reset()
	if c := run([]string{"status", id, "--json"}, &out, &errOut); c != exitOK {
		t.Fatalf("firebreak status --json: exit %d\n%s", c, errOut.String())
	}
	var st runs.RunStatus
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	found := false
	for _, a := range st.Retrying {
		if a.Step == "iam_keys" && a.Attempt >= 2 && strings.Contains(a.LastError, "Rate exceeded") {
			found = true
		}
	}
	if !found {
		t.Errorf("status --json retrying: %+v", st.Retrying)
	}
	if testenv.ContainsCanary(out.String() + stderr.String()) {
		t.Error("status output holds a secret")
	}

	// IAM answers again: the run goes on, through its owner's step, and contains.
	iamDown.Store(false)
	gctx, stopGates := context.WithCancel(ctx)
	defer stopGates()
	answerGates(gctx, t, srv.FrontendHostPort(), srv.Namespace(), workflowsCodec(t, key), id)
	select {
	case <-ended:
	case <-ctx.Done():
		t.Fatalf("firebreak run did not end:\n%s", stderr.String())
	}
	var card drills.Scorecard
	if err := json.Unmarshal(stdout.Bytes(), &card); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if code != exitOK || card.Outcome != workflows.OutcomeContained {
		t.Errorf("run after IAM came back: exit %d, outcome %s, error %s\n%s", code, card.Outcome, card.Error, stderr.String())
	}
}

func workflowsCodec(t *testing.T, key []byte) *workflows.Codec {
	t.Helper()
	c, err := workflows.NewCodec("k1", map[string][]byte{"k1": key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDrillShowsRetriesWhileItWaits: while IAM throttles a drill, the command shows each new
// attempt of the step that waits on it — attempt count and IAM's error — before the
// scorecard, which used to list retries only once the drill had ended.
func TestDrillShowsRetriesWhileItWaits(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	var stdout bytes.Buffer
	stderr := newWatchWriter()
	code := run([]string{"drill", "run", "compromised-dev-key", "--inject", "iam-throttle=9", "--evidence-dir", t.TempDir()}, &stdout, stderr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if !regexp.MustCompile(`RETRYING \w+: attempt [2-9]\d*, last error: [^\n]*Rate exceeded[^\n]*\(drill drill/compromised-dev-key/`).MatchString(stderr.String()) {
		t.Errorf("no retry shown while IAM throttled:\n%s", stderr.String())
	}
}

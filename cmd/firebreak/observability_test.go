package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/testenv/devserver"
	"github.com/firebreak-dev/firebreak/workflows"
)

// scrapeURL GETs a /metrics endpoint and parses it as Prometheus does; a malformed or
// self-contradictory exposition (a family twice, mixed types) fails the test.
func scrapeURL(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: expected 200, found %d: %s", url, resp.StatusCode, body)
	}
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("GET %s: not a valid exposition: %v\n%s", url, err, body)
	}
	return fams
}

// series returns the value of the counter or gauge, or the sample count of the histogram, of
// name whose labels include want.
func series(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	for _, m := range fams[name].GetMetric() {
		ok := true
		for k, v := range want {
			found := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == k {
					found = l.GetValue()
				}
			}
			ok = ok && found == v
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// TestWorkerAndServeMetrics runs `firebreak worker --metrics-listen` and `firebreak serve`
// against a Temporal server, with every vendor variable pointing at the sandbox, runs a
// playbook for real through the worker, and scrapes both: the worker's /metrics has the run,
// its time to contain, delivery lag and the SDK's own series; serve's /metrics keeps
// chatops's counters and adds the SDK's client metrics, in one valid exposition.
func TestWorkerAndServeMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	home := t.TempDir()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	for k, v := range map[string]string{
		"TEMPORAL_ADDRESS": srv.FrontendHostPort(), "TEMPORAL_NAMESPACE": srv.Namespace(), "FIREBREAK_STATE_DIR": home,
		"FIREBREAK_CODEC_KEY": base64.StdEncoding.EncodeToString(key), "FIREBREAK_LOG_FORMAT": "", "FIREBREAK_METRICS_LISTEN": "",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
		"VAULT_ADDR": sb.Vault.URL(), "VAULT_TOKEN": sb.Vault.RootToken(), "VAULT_NAMESPACE": "",
		"AWS_ENDPOINT_URL_IAM": sb.IAM.URL(), "AWS_ACCESS_KEY_ID": sb.IAM.AccessKeyID(), "AWS_SECRET_ACCESS_KEY": sb.IAM.SecretAccessKey(),
		"AWS_REGION": "us-east-1", "AWS_PROFILE": "", "AWS_CONFIG_FILE": filepath.Join(home, "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED": "true", "FIREBREAK_EVIDENCE_S3": "",
		"SLACK_BOT_TOKEN": sb.Slack.BotToken(), "SLACK_API_URL": sb.Slack.URL() + "/api/",
		"PAGERDUTY_TOKEN": sb.PagerDuty.Token(), "PAGERDUTY_API_URL": sb.PagerDuty.URL(), "PAGERDUTY_FROM": testenv.PagerDutyBotEmail,
		"SLACK_SIGNING_SECRET": "", "PAGERDUTY_WEBHOOK_SECRET": "", "FIREBREAK_CONFIG": "", "FIREBREAK_LISTEN": "",
		"FIREBREAK_CODEC_KEY_ID": "", "FIREBREAK_DECISION_KEY": "", "FIREBREAK_DECISION_PUBLIC_KEYS": workflows.FormatDecisionPublicKey(testDecisions.Public()),
	} {
		t.Setenv(k, v)
	}

	// firebreak worker --metrics-listen 127.0.0.1:0; the address it took is in its log.
	wctx, stopWorker := context.WithCancel(ctx)
	wout, werr := newWatchWriter(), newWatchWriter()
	wdone := make(chan error, 1)
	go func() {
		root := newRoot(wout, werr)
		root.SetArgs([]string{"worker", "--metrics-listen", "127.0.0.1:0", "--evidence-dir", filepath.Join(home, "evidence")})
		wdone <- root.ExecuteContext(wctx)
	}()
	defer func() {
		stopWorker()
		if err := <-wdone; err != nil {
			t.Errorf("firebreak worker: %v\n%s", err, werr.String())
		}
	}()
	metricsAddr := werr.waitFor(t, regexp.MustCompile(`url=http://(\S+)/metrics`), wdone)
	wout.waitFor(t, regexp.MustCompile(`(firebreak worker serving)`), wdone)

	// The run waits at a two-person gate and an owner's manual step: answered as a holder of a
	// decision key the worker trusts would.
	codec, err := workflows.NewCodec("k1", map[string][]byte{"k1": key})
	if err != nil {
		t.Fatal(err)
	}
	gctx, stopGates := context.WithCancel(ctx)
	defer stopGates()
	answerGates(gctx, t, srv.FrontendHostPort(), srv.Namespace(), codec, workflows.IncidentWorkflowID(testenv.DrillIncident))
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "compromised-dev-key", "subject=bob", "--reason", "observability test",
		"--slack-channel", "C0SECOPS", "--incident", testenv.DrillIncident, "--json"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("firebreak run: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	var card drills.Scorecard
	if err := json.Unmarshal(stdout.Bytes(), &card); err != nil {
		t.Fatalf("firebreak run --json: %v: %s", err, stdout.String())
	}

	fams := scrapeURL(t, "http://"+metricsAddr+"/metrics")
	prod := map[string]string{"playbook": "compromised-dev-key", "mode": "production"}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64 // 0: any positive value
	}{
		{"firebreak_runs_started_total", prod, 1},
		{"firebreak_runs_finished_total", map[string]string{"playbook": "compromised-dev-key", "mode": "production", "outcome": workflows.OutcomeContained}, 1},
		{"firebreak_time_to_contain_seconds", prod, 1},
		{"firebreak_step_duration_seconds", map[string]string{"playbook": "compromised-dev-key", "action": "vault.revoke_tokens", "status": "succeeded"}, 1},
		{"firebreak_delivery_lag_seconds", map[string]string{"integration": "slack", "activity": "Post"}, 0},
		{"firebreak_delivery_lag_seconds", map[string]string{"integration": "pagerduty", "activity": "AddNote"}, 0},
		{"temporal_activity_execution_latency_seconds", map[string]string{"activity_type": "vault.RevokeTokens", "task_queue": workflows.TaskQueue}, 0},
		{"temporal_request_total", map[string]string{"namespace": srv.Namespace()}, 0},
	} {
		got, ok := series(fams, c.name, c.labels)
		if !ok || (c.want == 0 && got <= 0) || (c.want != 0 && got != c.want) {
			t.Errorf("worker /metrics %s%v: expected %v (0: any), found %v (present %v)", c.name, c.labels, c.want, got, ok)
		}
	}

	// firebreak serve: chatops's /metrics with the SDK client's series appended.
	sctx, stopServe := context.WithCancel(ctx)
	sout := newWatchWriter()
	sdone := make(chan error, 1)
	go func() {
		sdone <- runServe(sctx, sout, io.Discard, serveFlags{listen: "127.0.0.1:0", logLevel: "error"})
	}()
	defer func() {
		stopServe()
		if err := <-sdone; err != nil {
			t.Errorf("firebreak serve: %v", err)
		}
	}()
	serveAddr := sout.waitFor(t, regexp.MustCompile(`listening on http://(\S+) `), sdone)
	// An unsigned slash command: refused, and counted by chatops.
	resp, err := http.Post("http://"+serveAddr+"/slack/commands", "application/x-www-form-urlencoded", strings.NewReader("command=%2Frevoke-dev"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	fams = scrapeURL(t, "http://"+serveAddr+"/metrics")
	if v, ok := series(fams, "firebreak_http_requests_total", nil); !ok || v <= 0 {
		t.Errorf("serve /metrics: expected chatops's firebreak_http_requests_total to count the refused command, found %v (present %v); families: %s", v, ok, familyNames(fams))
	}
	if v, ok := series(fams, "temporal_request_total", map[string]string{"operation": "GetSystemInfo"}); !ok || v <= 0 {
		t.Errorf("serve /metrics: expected the SDK client's temporal_request_total, found %v (present %v)", v, ok)
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Errorf("serve /metrics: go_goroutines is missing")
	}
}

func familyNames(fams map[string]*dto.MetricFamily) string {
	var out []string
	for n := range fams {
		out = append(out, n)
	}
	return strings.Join(out, " ")
}

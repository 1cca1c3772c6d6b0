package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

var updateHistory = flag.Bool("update-history", false, "record the drill's workflow history into workflows/testdata for the replay test")

// TestDrillEndToEnd runs the README's main job as a user would: `firebreak drill run
// compromised-dev-key --json` with no Temporal server running, on the embedded server and the
// sandbox. It checks the scorecard, the exit code, and that no canary secret reached stdout,
// stderr (logs), Slack, PagerDuty or the workflow history.
func TestDrillEndToEnd(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	var stdout, stderr bytes.Buffer
	mdFile, htmlFile := filepath.Join(t.TempDir(), "card.md"), filepath.Join(t.TempDir(), "card.html")
	code := run([]string{"drill", "run", "compromised-dev-key", "--json", "--log-level", "info", "--evidence-dir", t.TempDir(), "--markdown", mdFile, "--html", htmlFile}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var out struct {
		Drills []drills.Scorecard `json:"drills"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, stdout.String())
	}
	if len(out.Drills) != 1 {
		t.Fatalf("%d scorecards", len(out.Drills))
	}
	c := out.Drills[0]
	if !c.Passed || c.Outcome != workflows.OutcomeContained || c.TimeToContainMS <= 0 {
		t.Fatalf("scorecard: passed=%v outcome=%s ttc=%d error=%s", c.Passed, c.Outcome, c.TimeToContainMS, c.Error)
	}
	if len(c.Verifications) < 4 {
		t.Errorf("expected the verification checks of both verify steps, got %+v", c.Verifications)
	}
	for _, s := range c.Steps {
		if s.Status != workflows.StatusSucceeded {
			t.Errorf("step %s %s: %s", s.ID, s.Status, s.Error)
		}
	}
	scanned := 0
	for _, lc := range c.LeakChecks {
		scanned += lc.Scanned
		if lc.Leaks != 0 {
			t.Errorf("%d canary hits in %s", lc.Leaks, lc.Artefact)
		}
	}
	if scanned < 10 {
		t.Errorf("leak checks scanned only %d artefacts: %+v", scanned, c.LeakChecks)
	}
	md, _ := os.ReadFile(mdFile)
	page, _ := os.ReadFile(htmlFile)
	for name, s := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String(), "markdown": string(md), "html": string(page)} {
		if testenv.ContainsCanary(s) {
			t.Errorf("%s contains a canary secret", name)
		}
	}
	// alice could read shared/ci/deploy-key, marked manual (owner carol), and dev/alice/scratch,
	// not marked at all: the verdict is not PASS but says the run contained and remediation is
	// pending (and the exit code is 0).
	var pending []string
	for _, p := range c.RemediationPending {
		pending = append(pending, p.Path+"@"+p.Owner)
	}
	if c.Verdict != drills.VerdictRemediationPending || strings.Join(pending, ",") != "dev/alice/scratch@,shared/ci/deploy-key@carol" {
		t.Errorf("verdict %q, remediation pending %v; want %q for dev/alice/scratch (no owner) and shared/ci/deploy-key (carol)", c.Verdict, pending, drills.VerdictRemediationPending)
	}
	if len(c.UpstreamChecks) != 3 {
		t.Errorf("upstream checks %+v; want one per rotated secret (database, service, generate)", c.UpstreamChecks)
	}
	for _, uc := range c.UpstreamChecks {
		if !uc.Passed {
			t.Errorf("upstream check failed: %s — %s", uc.Name, uc.Detail)
		}
	}
	for name, doc := range map[string]string{"markdown": string(md), "html": string(page)} {
		for _, want := range []string{"compromised-dev-key", drills.VerdictRemediationPending, "rotated upstream: secret/shared/payments-db", c.WorkflowID, "revoke_vault_tokens", fmt.Sprintf("%d ms", c.TimeToContainMS)} {
			if !strings.Contains(doc, want) {
				t.Errorf("%s scorecard lacks %q", name, want)
			}
		}
	}
	if !strings.Contains(string(page), "@media print") || strings.Contains(string(page), "<script") || strings.Contains(string(page), "src=") {
		t.Error("the HTML scorecard is not one self-contained printable page")
	}
}

func TestDrillHumanScorecardAndBadInput(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown playbook", []string{"drill", "run", "compromised-dev-kye"}, exitUsage, `did you mean "compromised-dev-key"`},
		{"bad input", []string{"drill", "run", "compromised-dev-key", "--input", "subject=Not Valid"}, exitUsage, "does not match the pattern"},
		{"unknown input", []string{"drill", "run", "compromised-dev-key", "--input", "subjct=bob"}, exitUsage, `no input "subjct"`},
		{"malformed input", []string{"drill", "run", "compromised-dev-key", "--input", "subject"}, exitUsage, "expected key=value"},
		{"no playbook", []string{"drill", "run"}, exitUsage, "which playbook?"},
		{"unknown fault", []string{"drill", "run", "compromised-dev-key", "--inject", "dns-down"}, exitUsage, `unknown fault "dns-down": expected one of vault-down`},
		{"bad fault parameter", []string{"drill", "run", "compromised-dev-key", "--inject", "iam-throttle=lots"}, exitUsage, "expected a positive count"},
		{"unknown flag", []string{"drill", "run", "--nope"}, exitUsage, "unknown flag"},
		{"unknown command", []string{"drlil"}, exitUsage, `unknown command "drlil"`},
		{"unknown subject", []string{"drill", "run", "compromised-dev-key", "--input", "subject=zed", "--evidence-dir", t.TempDir()}, exitFailed, "zed"},
		{"human scorecard", []string{"drill", "run", "compromised-dev-key", "--input", "subject=bob", "--evidence-dir", t.TempDir()}, exitOK, "Time to contain:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			all := stdout.String() + stderr.String()
			if code != tc.code || !strings.Contains(all, tc.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s", code, tc.code, tc.want, all)
			}
			if testenv.ContainsCanary(all) {
				t.Fatal("output contains a canary secret")
			}
		})
	}
}

// TestRecordHistory writes a fresh history for the replay test when -update-history is given.
func TestRecordHistory(t *testing.T) {
	if !*updateHistory {
		t.Skip("run with -update-history to record workflows/testdata/compromised-dev-key.history.json")
	}
	ctx := context.Background()
	t.Setenv("FIREBREAK_STATE_DIR", t.TempDir())
	t.Setenv("FIREBREAK_CODEC_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	conn, err := dialTemporal(ctx, settingsFrom(ctx), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var stdout, stderr bytes.Buffer
	t.Setenv("TEMPORAL_ADDRESS", conn.Address)
	if code := run([]string{"drill", "run", "compromised-dev-key", "--auto-approve", "--json", "--evidence-dir", t.TempDir()}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var out struct{ Drills []drills.Scorecard }
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	events, err := conn.DecodeEvents(ctx, out.Drills[0].WorkflowID, out.Drills[0].RunID)
	if err != nil {
		t.Fatal(err)
	}
	h := historypb.History{Events: events} // decrypted, so the replayer needs no key
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	if testenv.ContainsCanary(string(b)) {
		t.Fatal("history contains a canary secret")
	}
	path := filepath.Join("..", "..", "workflows", "testdata", "compromised-dev-key.history.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDrillFaults drills compromised-dev-key once per fault kind on one rig (each drill starts
// from a freshly seeded sandbox) and proves from the sandbox itself that the playbook still
// contained alice: every token and key she held is dead, each was revoked by exactly one
// successful request, no secret was rotated twice, and no Slack message or PagerDuty note was
// posted twice. The scorecard must list the fault and the delay it caused.
func TestDrillFaults(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	ctx := context.Background()
	// The drill's own log level (warn): a fault drill that passes logs no ERROR or WARN line
	// (the SDK's "Activity error." for each failed attempt was one, until SDKLog).
	logs := &logLines{}
	rg, err := startRig(ctx, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rg.Close()
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := lib.Get("compromised-dev-key")
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := p.BindInputs(map[string]string{"subject": "alice"})
	if err != nil {
		t.Fatal(err)
	}
	seed := testenv.NewSandbox(nil) // the state every drill starts from
	defer seed.Close()
	alice, _ := seed.Org.Developer("alice")

	cases := []struct {
		inject  string
		service string
		// minDelay is the least delay the scorecard must show for the fault.
		minDelay time.Duration
		// retried is an activity that must have needed more than one attempt ("" for none).
		retried string
	}{
		{"vault-down", "vault", 1500 * time.Millisecond, "vault."},
		{"vault-slow=40ms", "vault", 40 * time.Millisecond, ""},
		// Six: the first IAM step (awsiam.list_keys) makes two calls at once and the SDK
		// retries each three times, so fewer throttles are absorbed without an activity retry.
		{"iam-throttle=6", "iam", 0, "awsiam."},
		{"slack-429=2", "slack", time.Second, "slack."},
		{"pagerduty-down", "pagerduty", 0, "pagerduty."},
		{"worker-crash=200ms", "worker", 200 * time.Millisecond, ""},
	}
	for _, tc := range cases {
		t.Run(tc.inject, func(t *testing.T) {
			card := rg.Drill(ctx, p, inputs, drills.Settings{Timeout: 2 * time.Minute, Inject: []string{tc.inject}})
			if !card.Passed {
				t.Fatalf("drill with %s did not pass: outcome=%s cause=%s error=%s", tc.inject, card.Outcome, card.FailureCause, card.Error)
			}
			if len(card.Faults) != 1 {
				t.Fatalf("scorecard lists %d faults, want 1: %+v", len(card.Faults), card.Faults)
			}
			f := card.Faults[0]
			if f.Service != tc.service || !strings.HasPrefix(f.Fault, strings.SplitN(tc.inject, "=", 2)[0]) {
				t.Errorf("fault report %+v, want %s on %s", f, tc.inject, tc.service)
			}
			if tc.service != "worker" && f.Hits == 0 {
				t.Errorf("fault %s answered no request: %+v", tc.inject, f)
			}
			if time.Duration(f.DelayMS)*time.Millisecond < tc.minDelay || (tc.minDelay > 0 && f.DelayMS == 0) {
				t.Errorf("fault %s: delay %d ms, want at least %s", tc.inject, f.DelayMS, tc.minDelay)
			}
			if tc.retried != "" {
				found := false
				for _, a := range card.Retries {
					found = found || (strings.HasPrefix(a.Activity, tc.retried) && a.Attempts > 1)
				}
				if !found {
					t.Errorf("no %s* activity was retried under %s; retries: %+v", tc.retried, tc.inject, card.Retries)
				}
			}
			var human bytes.Buffer
			drills.PrintScorecard(&human, card)
			if !strings.Contains(human.String(), "Faults injected:") || !strings.Contains(human.String(), f.Fault) {
				t.Errorf("human scorecard does not show the fault:\n%s", human.String())
			}
			assertContainedOnce(t, rg.Sandbox(), seed, alice, card)
			if tc.service == "worker" {
				assertTwoWorkers(t, ctx, rg.conn, card)
			}
			// No ERROR line, and no line for the failed attempts the fault caused (the
			// scorecard reports those).
			if got := logs.take(); tc.service != "worker" && (strings.Contains(got, "level=ERROR") || strings.Contains(got, "Activity error.")) {
				t.Errorf("a drill with %s that passed logged an error or its failed attempts at warn:\n%s", tc.inject, got)
			}
		})
	}
}

// logLines collects log output from many goroutines; take returns and clears it.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	l.buf.Reset()
	return s
}

// assertContainedOnce checks the sandbox after a drill of alice: nothing missed, nothing doubled.
func assertContainedOnce(t *testing.T, sb, seed *testenv.Sandbox, alice testenv.Developer, card drills.Scorecard) {
	t.Helper()
	rec := sb.Recorder
	for _, tok := range alice.VaultTokens {
		if sb.Vault.TokenValid(tok.Accessor) {
			t.Errorf("token %s still valid: a revocation was missed", tok.Accessor)
		}
		ok := 0
		for _, c := range rec.Calls("vault") {
			if c.Op == "POST auth/token/revoke-accessor" && c.Status < 300 && strings.Contains(c.Body, `"`+tok.Accessor+`"`) {
				ok++
			}
		}
		if ok != 1 {
			t.Errorf("token %s was revoked by %d successful requests, want exactly 1", tok.Accessor, ok)
		}
	}
	if !sb.Vault.EntityDisabled("alice") {
		t.Error("alice's Vault entity is not disabled")
	}
	for _, k := range alice.IAMKeys {
		if st, _ := sb.IAM.KeyStatus("alice", k.ID); st != "Inactive" {
			t.Errorf("IAM key %s is %q, want Inactive", k.ID, st)
		}
	}
	rotated := 0
	for _, s := range seed.Org.Secrets {
		_, before, _ := seed.Vault.Secret(s.Mount, s.Path)
		_, after, _ := sb.Vault.Secret(s.Mount, s.Path)
		switch after - before {
		case 0:
		case 1:
			rotated++
		default:
			t.Errorf("secret %s/%s went from version %d to %d: rotated more than once", s.Mount, s.Path, before, after)
		}
	}
	for _, st := range card.Steps {
		if st.ID == "rotate_shared_secrets" {
			if got, _ := st.Outputs["rotated"].([]any); len(got) != rotated {
				t.Errorf("the run reports %d rotations, the sandbox shows %d", len(got), rotated)
			}
		}
	}
	if rotated == 0 {
		t.Error("no secret was rotated; alice can read shared secrets")
	}
	seen := map[string]bool{}
	top := 0
	for _, m := range sb.Slack.Messages(testenv.DrillChannel) {
		if m.ThreadTS == "" {
			top++
			continue
		}
		if seen[m.Text] {
			t.Errorf("slack reply posted twice: %q", m.Text)
		}
		seen[m.Text] = true
	}
	if top != 1 || len(seen) == 0 {
		t.Errorf("slack has %d status messages and %d replies; want 1 status message and its thread", top, len(seen))
	}
	markers := map[string]bool{}
	for _, n := range sb.PagerDuty.Notes(testenv.DrillIncident) {
		lines := strings.Split(strings.TrimSpace(n.Content), "\n")
		last := lines[len(lines)-1]
		if markers[last] {
			t.Errorf("pagerduty note %s posted twice", last)
		}
		markers[last] = true
	}
	if len(markers) == 0 {
		t.Error("no pagerduty note reached the incident")
	}
}

// assertTwoWorkers checks from the history that the run was finished by a different worker
// from the one that started it.
func assertTwoWorkers(t *testing.T, ctx context.Context, conn *temporalConn, card drills.Scorecard) {
	t.Helper()
	events, err := conn.DecodeEvents(ctx, card.WorkflowID, card.RunID)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, ev := range events {
		if a := ev.GetWorkflowTaskCompletedEventAttributes(); a != nil {
			ids[a.GetIdentity()] = true
		}
	}
	if len(ids) < 2 {
		t.Errorf("workflow tasks were completed by %d worker identities (%v), want the crashed one and its replacement", len(ids), ids)
	}
}

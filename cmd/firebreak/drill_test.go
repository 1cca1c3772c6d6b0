package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

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
	code := run([]string{"drill", "run", "compromised-dev-key", "--json", "--log-level", "info", "--evidence-dir", t.TempDir()}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var out struct {
		Drills []Scorecard `json:"drills"`
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
	for name, s := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String()} {
		if testenv.ContainsCanary(s) {
			t.Errorf("%s contains a canary secret", name)
		}
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
		{"unknown flag", []string{"drill", "run", "--nope"}, exitUsage, "unknown flag"},
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
	conn, err := connectTemporal(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var stdout, stderr bytes.Buffer
	t.Setenv("TEMPORAL_ADDRESS", conn.Address)
	if code := run([]string{"drill", "run", "compromised-dev-key", "--json", "--evidence-dir", t.TempDir()}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var out struct{ Drills []Scorecard }
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

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/audit"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// TestAuditAndSchedules drives the auditor's and the drill scheduler's commands as a user
// would, against one embedded server shared through TEMPORAL_ADDRESS: a drill runs, `audit
// export` turns its history into a signed chain that `audit verify` accepts and that fails,
// located, after a one-byte change; `audit list` and `drill history` find the run; `drill
// schedule sync|list|pause` create and pause a Temporal Schedule for it.
func TestAuditAndSchedules(t *testing.T) {
	state := t.TempDir()
	t.Setenv("FIREBREAK_STATE_DIR", state)
	t.Setenv("FIREBREAK_CODEC_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))
	t.Setenv("TEMPORAL_ADDRESS", "")
	ctx := context.Background()
	conn, err := connectTemporal(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("TEMPORAL_ADDRESS", conn.Address)
	cli := func(t *testing.T, want int, args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != want {
			t.Fatalf("firebreak %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout.String(), stderr.String())
		}
		return stdout.String()
	}

	var drilled struct{ Drills []Scorecard }
	if err := json.Unmarshal([]byte(cli(t, exitOK, "drill", "run", "compromised-dev-key", "--json", "--evidence-dir", t.TempDir())), &drilled); err != nil {
		t.Fatal(err)
	}
	card := drilled.Drills[0]

	t.Run("export and verify", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "run.json")
		cli(t, exitOK, "audit", "export", card.WorkflowID, "--format", "json", "-o", file)
		if _, err := os.Stat(filepath.Join(state, "audit-signing-key.pem")); err != nil {
			t.Errorf("the signing key was not saved in the state dir: %v", err)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if testenv.ContainsCanary(string(b)) {
			t.Fatal("the audit export contains a canary secret")
		}
		ex, err := audit.Verify(b, "")
		if err != nil {
			t.Fatalf("export does not verify: %v", err)
		}
		var rs audit.RunStarted
		_ = json.Unmarshal(ex.Entries[0].Data, &rs)
		if rs.Playbook != "compromised-dev-key" || rs.SourceSHA256 != card.PlaybookSHA256 || rs.RunID != card.RunID || rs.Inputs["subject"] != "alice" {
			t.Errorf("run.started %+v does not describe the drill %s", rs, card.WorkflowID)
		}
		activities, evidence := 0, false
		for _, e := range ex.Entries {
			if e.Kind == audit.KindActivityCompleted {
				activities++
				evidence = evidence || strings.Contains(string(e.Data), `"chain_sha256"`)
			}
		}
		if activities < len(card.Steps) || !evidence {
			t.Errorf("export has %d completed activities (want ≥ %d steps) and evidence digest %v", activities, len(card.Steps), evidence)
		}
		if last := ex.Entries[len(ex.Entries)-1]; last.Kind != audit.KindRunEnded || !strings.Contains(last.Summary, "contained") {
			t.Errorf("last entry %s %q, want the run's contained end", last.Kind, last.Summary)
		}
		ok := cli(t, exitOK, "audit", "verify", file, "--key-id", ex.Checkpoint.KeyID)
		if !strings.HasPrefix(ok, "OK ") {
			t.Errorf("verify output %q", ok)
		}
		// Change one byte in the summary of entry 3: verify must fail and name entry 3.
		lines := bytes.Split(b, []byte("\n"))
		i := bytes.Index(lines[3], []byte(`"summary":"`)) + len(`"summary":"`)
		lines[3][i] ^= 0x01
		bad := filepath.Join(t.TempDir(), "tampered.json")
		if err := os.WriteFile(bad, bytes.Join(lines, []byte("\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		if out := cli(t, exitFailed, "audit", "verify", bad); !strings.Contains(out, "entry 3 does not verify") {
			t.Errorf("tampered export: %q, want entry 3 named", out)
		}
		cli(t, exitFailed, "audit", "verify", file, "--key-id", "0000000000000000")
		for _, f := range []string{"markdown", "html"} {
			out := cli(t, exitOK, "audit", "export", card.WorkflowID, "--format", f)
			if !strings.Contains(out, card.PlaybookSHA256) || testenv.ContainsCanary(out) {
				t.Errorf("%s export lacks the playbook hash or leaks a canary", f)
			}
		}
		cli(t, exitUsage, "audit", "export", card.WorkflowID, "--format", "pdf")
	})

	t.Run("list and history", func(t *testing.T) {
		if out := cli(t, exitOK, "audit", "list", "--playbook", "compromised-dev-key", "--since", "1h"); !strings.Contains(out, card.WorkflowID) {
			t.Errorf("audit list lacks %s:\n%s", card.WorkflowID, out)
		}
		if out := cli(t, exitOK, "audit", "list", "--playbook", "no-such-playbook"); strings.Contains(out, card.WorkflowID) {
			t.Errorf("audit list --playbook no-such-playbook lists %s", card.WorkflowID)
		}
		var h struct{ Playbooks []drillTrend }
		if err := json.Unmarshal([]byte(cli(t, exitOK, "drill", "history", "compromised-dev-key", "--json")), &h); err != nil {
			t.Fatal(err)
		}
		if len(h.Playbooks) != 1 || h.Playbooks[0].Drills < 1 || h.Playbooks[0].LatestTTC != card.TimeToContainMS || h.Playbooks[0].Failed != 0 {
			t.Errorf("drill history %+v, want the drill with ttc %d", h.Playbooks, card.TimeToContainMS)
		}
	})

	t.Run("schedules", func(t *testing.T) {
		out := cli(t, exitOK, "drill", "schedule", "sync", "compromised-dev-key", "--cron", "0 3 * * 1", "--input", "subject=bob")
		id := scheduleID("compromised-dev-key", 0)
		if !strings.Contains(out, "created "+id) {
			t.Errorf("sync output %q", out)
		}
		d, err := conn.Client.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
		if err != nil {
			t.Fatalf("the schedule was not created: %v", err)
		}
		act, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
		if !ok || act.TaskQueue != workflows.DrillTaskQueue || len(d.Schedule.Spec.CronExpressions)+len(d.Schedule.Spec.Calendars) == 0 || len(d.Info.NextActionTimes) == 0 {
			t.Fatalf("schedule %+v / action %+v: want a cron spec starting drills on %s", d.Schedule.Spec, d.Schedule.Action, workflows.DrillTaskQueue)
		}
		if out := cli(t, exitOK, "drill", "schedule", "sync", "compromised-dev-key", "--cron", "30 4 * * *"); !strings.Contains(out, "updated "+id) {
			t.Errorf("second sync output %q, want an update", out)
		}
		cli(t, exitOK, "drill", "schedule", "pause", "compromised-dev-key", "--note", "change freeze")
		var l struct{ Schedules []scheduleInfo }
		if err := json.Unmarshal([]byte(cli(t, exitOK, "drill", "schedule", "list", "--json")), &l); err != nil {
			t.Fatal(err)
		}
		if len(l.Schedules) != 1 || !l.Schedules[0].Paused || l.Schedules[0].Note != "change freeze" || l.Schedules[0].Playbook != "compromised-dev-key" {
			t.Errorf("schedule list %+v, want one paused compromised-dev-key schedule", l.Schedules)
		}
		cli(t, exitUsage, "drill", "schedule", "pause", "no-such-playbook")
		cli(t, exitUsage, "drill", "schedule", "sync", "compromised-dev-key", "--cron", "every monday")
	})
}

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/audit"
	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// TestAuditAndSchedules drives the auditor's and the drill scheduler's commands as a user
// would, against one embedded server shared through TEMPORAL_ADDRESS: a drill runs, `audit
// export` turns its history into a signed chain that `audit verify` accepts and that fails,
// located, after a one-byte change; `audit list` and `drill history` find the run; `drill
// schedule sync|list|pause` create and pause a Temporal Schedule for it.
// evidenceHeadTampering is the security review's finding: with another run's record after
// this run's, cutting the file short or rewriting that record and re-chaining still verified,
// since this run's own record was untouched. The head beside the file no longer matches
// either (signatures: TestHeadShowsTruncationAndRechaining in activities/evidence).
func evidenceHeadTampering(t *testing.T, cli func(*testing.T, int, ...string) string, export, keyID, evFile string) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"evidence.jsonl", evidence.HeadFileName} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(evFile), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st, err := evidence.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(context.Background(), evidence.Record{Key: "later/run", WorkflowID: "later", RunID: "r9", Kind: "snapshot", Data: json.RawMessage(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "evidence.jsonl")
	if out := cli(t, exitOK, "audit", "verify", export, "--key-id", keyID, "--evidence", path); !strings.Contains(out, "OK evidence head") {
		t.Fatalf("the untouched file with a later run's record: %q", out)
	}
	recs, err := evidence.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := os.ReadFile(path)
	cut := bytes.SplitAfter(full, []byte("\n"))
	if err := os.WriteFile(path, bytes.Join(cut[:len(recs)-1], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := cli(t, exitFailed, "audit", "verify", export, "--key-id", keyID, "--evidence", path); !strings.Contains(out, "truncated") {
		t.Errorf("a truncated evidence file: %q; want it named truncated", out)
	}
	// Rewrite the later record and re-chain, as someone with the file but not the key can.
	redo := t.TempDir()
	rs, _ := evidence.OpenFileStore(redo)
	for i, r := range recs {
		if i == len(recs)-1 {
			r.Data = json.RawMessage(`{"n":"forged"}`)
		}
		r.Seq, r.SHA256, r.PrevChain, r.ChainSHA256 = 0, "", "", ""
		if _, err := rs.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	forged, _ := os.ReadFile(filepath.Join(redo, "evidence.jsonl"))
	if err := os.WriteFile(path, forged, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := cli(t, exitFailed, "audit", "verify", export, "--key-id", keyID, "--evidence", path); !strings.Contains(out, "rewritten") {
		t.Errorf("a rewritten and re-chained evidence file: %q; want it named rewritten", out)
	}
	// The untouched file with its head deleted: exit 1, not a warning.
	if err := os.WriteFile(path, full, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, evidence.HeadFileName)); err != nil {
		t.Fatal(err)
	}
	if out := cli(t, exitFailed, "audit", "verify", export, "--key-id", keyID, "--evidence", path); !strings.Contains(out, "no head") {
		t.Errorf("an evidence file whose head was deleted: %q; want it refused for having no head", out)
	}
}

func TestAuditAndSchedules(t *testing.T) {
	state := t.TempDir()
	t.Setenv("FIREBREAK_STATE_DIR", state)
	t.Setenv("FIREBREAK_CODEC_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32)))
	t.Setenv("TEMPORAL_ADDRESS", "")
	ctx := context.Background()
	conn, err := dialTemporal(ctx, settingsFrom(ctx), slog.New(slog.NewTextHandler(io.Discard, nil)))
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

	var drilled struct{ Drills []drills.Scorecard }
	evDir := t.TempDir()
	// On a shared server a named drill is a tabletop that waits for people (its two-person
	// gate); this test is about the audit record, so the drill bot answers.
	if err := json.Unmarshal([]byte(cli(t, exitOK, "drill", "run", "compromised-dev-key", "--auto-approve", "--json", "--evidence-dir", evDir)), &drilled); err != nil {
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
		// The readable record and the scorecard give the same times.
		mdFile := filepath.Join(t.TempDir(), "run.md")
		cli(t, exitOK, "audit", "export", card.WorkflowID, "--format", "markdown", "-o", mdFile)
		md, err := os.ReadFile(mdFile)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"| Time to contain | " + workflows.Millis(card.Times().ToContain) + " (trigger", "| Subject | alice |", "## Timeline"} {
			if !strings.Contains(string(md), want) {
				t.Errorf("the Markdown record lacks %q (the scorecard's time to contain is %d ms)", want, card.TimeToContainMS)
			}
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
		// Intact is not enough: without a trusted key id the export is unauthenticated, since
		// anyone can re-sign an altered export with a key of their own.
		if out := cli(t, exitFailed, "audit", "verify", file); !strings.Contains(out, "UNAUTHENTICATED") {
			t.Errorf("verify without a trusted key: %q", out)
		}
		if out := cli(t, exitOK, "audit", "key"); !strings.Contains(out, ex.Checkpoint.KeyID) {
			t.Errorf("audit key does not print the signing key's id %s: %q", ex.Checkpoint.KeyID, out)
		}

		// The export and the run's evidence file verify together; a changed record does not.
		evFile := filepath.Join(evDir, "evidence.jsonl")
		if out := cli(t, exitOK, "audit", "verify", file, "--key-id", ex.Checkpoint.KeyID, "--evidence", evFile); !strings.Contains(out, "OK evidence record 1 (sha256 ") {
			t.Errorf("verify --evidence output %q", out)
		}
		evb, err := os.ReadFile(evFile)
		if err != nil {
			t.Fatal(err)
		}
		i = bytes.Index(evb, []byte(`"data":{`)) + len(`"data":{`) + 1
		evb[i] ^= 0x01
		badEv := filepath.Join(t.TempDir(), "evidence.jsonl")
		if err := os.WriteFile(badEv, evb, 0o600); err != nil {
			t.Fatal(err)
		}
		if out := cli(t, exitFailed, "audit", "verify", file, "--key-id", ex.Checkpoint.KeyID, "--evidence", badEv); !strings.Contains(out, "record 1: data does not match its sha256") {
			t.Errorf("verify with a changed evidence record: %q", out)
		}
		evidenceHeadTampering(t, cli, file, ex.Checkpoint.KeyID, evFile)
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
		var h struct{ Playbooks []drills.Trend }
		if err := json.Unmarshal([]byte(cli(t, exitOK, "drill", "history", "compromised-dev-key", "--json")), &h); err != nil {
			t.Fatal(err)
		}
		if len(h.Playbooks) != 1 || h.Playbooks[0].Drills < 1 || h.Playbooks[0].LatestTTC != card.TimeToContainMS || h.Playbooks[0].Failed != 0 {
			t.Errorf("drill history %+v, want the drill with ttc %d", h.Playbooks, card.TimeToContainMS)
		}
	})

	t.Run("review and metrics", func(t *testing.T) {
		doc := cli(t, exitOK, "audit", "review", card.WorkflowID)
		for _, want := range []string{"# Post-incident review (draft): compromised-dev-key — alice", "## Timeline", "## What went well", "## What was slow", "## Follow-ups", fmt.Sprintf("Contained %s after the trigger", audit.FormatMillis(card.TimeToContainMS))} {
			if !strings.Contains(doc, want) {
				t.Errorf("review lacks %q:\n%s", want, doc)
			}
		}
		if testenv.ContainsCanary(doc) {
			t.Error("the review contains a canary secret")
		}
		var m struct{ Playbooks []audit.PlaybookMetrics }
		if err := json.Unmarshal([]byte(cli(t, exitOK, "audit", "metrics", "--playbook", "compromised-dev-key", "--json")), &m); err != nil {
			t.Fatal(err)
		}
		if len(m.Playbooks) != 1 || !m.Playbooks[0].Drills || m.Playbooks[0].Contained < 1 || m.Playbooks[0].MTTRMS <= 0 {
			t.Errorf("metrics %+v, want the contained drill with its MTTR", m.Playbooks)
		}
		if out := cli(t, exitOK, "audit", "metrics"); !strings.Contains(out, "MTTR") || !strings.Contains(out, "compromised-dev-key") {
			t.Errorf("metrics table:\n%s", out)
		}
	})

	t.Run("schedules", func(t *testing.T) {
		out := cli(t, exitOK, "drill", "schedule", "sync", "compromised-dev-key", "--cron", "0 3 * * 1", "--input", "subject=bob")
		id := drills.ScheduleID("compromised-dev-key", 0)
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
		var l struct{ Schedules []drills.ScheduleInfo }
		if err := json.Unmarshal([]byte(cli(t, exitOK, "drill", "schedule", "list", "--json")), &l); err != nil {
			t.Fatal(err)
		}
		if len(l.Schedules) != 1 || !l.Schedules[0].Paused || l.Schedules[0].Note != "change freeze" || l.Schedules[0].Playbook != "compromised-dev-key" {
			t.Errorf("schedule list %+v, want one paused compromised-dev-key schedule", l.Schedules)
		}
		if len(l.Schedules) == 1 && strings.Join(l.Schedules[0].Cron, "; ") != "30 4 * * *" {
			t.Errorf("schedule list cron %q, want the expression as written, 30 4 * * *", l.Schedules[0].Cron)
		}
		if out := cli(t, exitOK, "drill", "schedule", "list"); !strings.Contains(out, "30 4 * * *") || strings.Contains(out, "{") {
			t.Errorf("schedule list table shows no readable cron:\n%s", out)
		}
		cli(t, exitUsage, "drill", "schedule", "pause", "no-such-playbook")
		cli(t, exitUsage, "drill", "schedule", "sync", "compromised-dev-key", "--cron", "every monday")
	})
}

// TestScreenshotScript runs scripts/screenshot-html.sh on an HTML audit export: with a stand-in
// for Chromium it must call it headless on the page's file and produce the PNG and PDF; with no
// Chromium it must explain how to get it and install nothing; a page that loads a script is
// refused as not self-contained.
func TestScreenshotScript(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script, _ := filepath.Abs(filepath.Join("..", "..", "scripts", "screenshot-html.sh"))
	events, err := drills.ReadHistoryFile(filepath.Join("..", "..", "workflows", "testdata", "compromised-dev-key.history.json"))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := audit.Build("drill/compromised-dev-key/alice/x", "run-1", events, nil)
	if err != nil {
		t.Fatal(err)
	}
	page, err := audit.HTML(ex)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	html := filepath.Join(dir, "run.html")
	if err := os.WriteFile(html, page, 0o644); err != nil {
		t.Fatal(err)
	}
	sh := func(env []string, args ...string) (string, int) {
		cmd := exec.Command("bash", append([]string{script}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}

	fake := filepath.Join(dir, "fake-chromium")
	argsLog := filepath.Join(dir, "args")
	if err := os.WriteFile(fake, []byte(`#!/usr/bin/env bash
echo "$@" >> `+argsLog+`
for a in "$@"; do case $a in --screenshot=*) echo png > "${a#--screenshot=}";; --print-to-pdf=*) echo pdf > "${a#--print-to-pdf=}";; esac; done
`), 0o755); err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(dir, "shot.png")
	if out, code := sh([]string{"CHROMIUM=" + fake}, html, png); code != 0 || !strings.Contains(out, "wrote "+png) {
		t.Fatalf("with a Chromium: exit %d\n%s", code, out)
	}
	calls, _ := os.ReadFile(argsLog)
	if !strings.Contains(string(calls), "--headless") || !strings.Contains(string(calls), "file://"+html) || !strings.Contains(string(calls), "--print-to-pdf=") {
		t.Errorf("Chromium called with:\n%s", calls)
	}
	for _, f := range []string{png, strings.TrimSuffix(png, ".png") + ".pdf"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("no %s: %v", f, err)
		}
	}

	empty := t.TempDir() // a PATH with bash's tools but no Chromium
	for _, tool := range []string{"bash", "sed", "grep", "dirname", "id", "cat", "head"} {
		if p, err := exec.LookPath(tool); err == nil {
			_ = os.Symlink(p, filepath.Join(empty, tool))
		}
	}
	if out, code := sh([]string{"CHROMIUM=", "PATH=" + empty}, html); code != 3 || !strings.Contains(out, "apt-get install chromium") || !strings.Contains(out, "installs nothing") {
		t.Errorf("without Chromium: exit %d (want 3)\n%s", code, out)
	}

	scripted := filepath.Join(dir, "scripted.html")
	_ = os.WriteFile(scripted, []byte(`<html><body><script src="https://example.com/x.js"></script></body></html>`), 0o644)
	if out, code := sh([]string{"CHROMIUM=" + fake}, scripted); code != 1 || !strings.Contains(out, "not self-contained") {
		t.Errorf("a page that loads a script: exit %d (want 1)\n%s", code, out)
	}
	if _, code := sh(nil); code != 2 {
		t.Errorf("no arguments: exit %d, want 2", code)
	}
}

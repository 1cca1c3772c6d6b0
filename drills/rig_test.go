package drills

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/testenv/devserver"
	"github.com/firebreak-dev/firebreak/workflows"
)

// startTestRig starts an in-memory Temporal server, a client of it with an encrypting codec,
// and a rig on them, all stopped when the test ends. cfg's connection fields are filled in.
func startTestRig(t testing.TB, cfg Config) (*Rig, client.Client) {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	srv, err := devserver.Start(ctx, devserver.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	codec, err := workflows.NewCodec("test", map[string][]byte{"test": key})
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.DialContext(ctx, client.Options{
		HostPort: srv.FrontendHostPort(), Namespace: srv.Namespace(), Logger: tlog.NewStructuredLogger(logger),
		DataConverter: workflows.DataConverter(codec), FailureConverter: workflows.FailureConverter(codec),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cfg.Client, cfg.Runs, cfg.Embedded = c, runs.New(c, codec), true
	if cfg.EvidenceDir == "" {
		cfg.EvidenceDir = t.TempDir()
	}
	rg, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rg.Close)
	return rg, c
}

// TestDrillTabletop drills lost-mfa-device without --auto-approve: its two manual steps wait
// for a participant, who answers each through the approve Update as the Slack front end does.
// The scorecard must show who answered and each response time.
func TestDrillTabletop(t *testing.T) {
	ctx := context.Background()
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := lib.Get("lost-mfa-device")
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := p.BindInputs(map[string]string{"subject": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	type ask struct {
		wfID string
		p    workflows.PendingApproval
	}
	asks := make(chan ask, 8)
	rg, c := startTestRig(t, Config{Announce: func(wfID string, p workflows.PendingApproval) { asks <- ask{wfID, p} }})
	cards := make(chan Scorecard, 1)
	go func() {
		cards <- rg.Drill(ctx, p, inputs, Settings{Timeout: 2 * time.Minute, AutoApprove: false, AutoApproveSet: true})
	}()
	answered := map[string]bool{}
	var card Scorecard
	for card.WorkflowID == "" {
		select {
		case a := <-asks:
			// Manual steps, and the two-person gates before the steps that cannot be undone
			// (deleting a virtual MFA device): a tabletop waits for people at both.
			gate := a.p.Kind == workflows.PendingKindApproval && strings.HasPrefix(a.p.Step, playbooks.GatePrefix) && len(a.p.Guards) > 0
			if (a.p.Kind != workflows.PendingKindManual && !gate) || len(a.p.Roles) == 0 || a.p.Roles[0] != "security-oncall" {
				t.Fatalf("tabletop asked for %+v, want a manual step or a two-person gate for security-oncall", a.p)
			}
			// A drill's decisions are signed with the sandbox's decision key (chatops.Decide
			// picks it for a drill), the only one drill workers trust.
			res, err := (&runs.Client{Temporal: c, Signer: workflows.NewSigner(workflows.SandboxDecisionKey())}).Decide(ctx, a.wfID,
				workflows.ApprovalRequest{Step: a.p.Step, Approver: "carol", ApproverRoles: []string{"security-oncall"}, Decision: workflows.DecisionApprove, Reason: "done by phone"})
			if err != nil || !res.Granted {
				t.Fatalf("answering %s: granted=%v err=%v", a.p.Step, res.Granted, err)
			}
			answered[a.p.Step] = true
		case card = <-cards:
		case <-time.After(2 * time.Minute):
			t.Fatal("the tabletop drill neither asked nor finished within 2m")
		}
	}
	if !card.Passed || !answered["verify_identity"] || !answered["enrolment_path"] || !answered[playbooks.GatePrefix+"delete_device"] {
		t.Fatalf("tabletop drill passed=%v answered=%v cause=%s error=%s", card.Passed, answered, card.FailureCause, card.Error)
	}
	if len(card.Decisions) != len(answered) {
		t.Fatalf("decisions %+v, want one for each of %v", card.Decisions, answered)
	}
	manual := 0
	for _, d := range card.Decisions {
		if d.Kind == workflows.PendingKindManual {
			manual++
		}
		if d.Approver != "carol" || !answered[d.Step] || d.ResponseMS <= 0 {
			t.Errorf("decision %+v: want carol's answer with a response time", d)
		}
	}
	if manual != 2 {
		t.Errorf("decisions %+v, want the two manual steps among them", card.Decisions)
	}
	posted := 0
	for _, call := range rg.Sandbox().Recorder.Calls("slack") {
		body, _ := url.QueryUnescape(call.Body)
		if strings.Contains(body, "Manual step for a security-oncall — verify_identity") || strings.Contains(body, "Manual step for a security-oncall — enrolment_path") {
			posted++
		}
	}
	if posted == 0 {
		t.Error("the manual steps were not posted to the drill's Slack channel")
	}
	var human bytes.Buffer
	PrintScorecard(&human, card)
	md := Markdown([]Scorecard{card})
	for _, d := range card.Decisions {
		want := fmt.Sprintf("%s %s: approve by carol after %d ms", d.Kind, d.Step, d.ResponseMS)
		if !strings.Contains(human.String(), want) || !strings.Contains(md, want) {
			t.Errorf("scorecards lack %q:\n%s", want, human.String())
		}
	}
}

func TestAutoApproveDefault(t *testing.T) {
	for _, tc := range []struct {
		f        Settings
		embedded bool
		want     bool
	}{
		{Settings{}, false, false},                                       // a named playbook on a shared server: tabletop
		{Settings{}, true, true},                                         // nobody can reach an embedded server
		{Settings{All: true}, false, true},                               // a sweep is unattended
		{Settings{All: true, AutoApproveSet: true}, true, false},         // --auto-approve=false wins
		{Settings{AutoApprove: true, AutoApproveSet: true}, false, true}, // --auto-approve wins
	} {
		if got := tc.f.AutoApproves(tc.embedded); got != tc.want {
			t.Errorf("%+v embedded=%v: auto-approve %v, want %v", tc.f, tc.embedded, got, tc.want)
		}
	}
}

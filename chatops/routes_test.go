package chatops_test

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/workflows"
)

// inventoryPlaybook changes nothing (an inventory only), so its slash command starts at once.
const inventoryPlaybook = `name: inventory-dev
title: Inventory a developer
severity: low
inputs:
  subject: {type: user, required: true, description: whose credentials}
  reason: {type: string, default: none}
triggers:
  slash: {command: /inventory, args: [subject, reason]}
steps:
  - id: inv
    action: awsiam.inventory
    with:
      user: ${{ inputs.subject }}
  - id: check
    action: awsiam.verify_contained
    needs: [inv]
    with:
      user: ${{ inputs.subject }}
      access_key_ids: ${{ steps.inv.outputs.access_key_ids }}
`

// libraryWith compiles the bundled library plus the given playbook files (name → YAML).
func libraryWith(t *testing.T, files map[string]string) (*playbooks.Library, error) {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return playbooks.LoadLibrary(dir)
}

func mustLibrary(t *testing.T, files map[string]string) *playbooks.Library {
	t.Helper()
	lib, err := libraryWith(t, files)
	if err != nil {
		t.Fatalf("test playbooks do not compile: %v", err)
	}
	return lib
}

func TestSlashRoutesOfTheBundledLibrary(t *testing.T) {
	routes, err := chatops.SlashRoutes(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range routes {
		got[r.Command] = r.Playbook + " " + strings.Join(r.Args, ",")
	}
	want := map[string]string{
		"/deprovision": "emergency-deprovision subject,reason",
		"/lost-mfa":    "lost-mfa-device subject,reason",
		"/revoke-dev":  "compromised-dev-key subject,reason",
		"/firebreak":   " ",
	}
	for cmd, w := range want {
		if got[cmd] != w {
			t.Errorf("%s routes to %q; want %q", cmd, got[cmd], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("routes %v; want exactly %v", got, want)
	}
}

// Two playbooks claiming one command, or a playbook claiming one of firebreak's own, stop the
// server from starting, with an error naming them.
func TestSlashRouteConflictsRefuseToStart(t *testing.T) {
	claim := func(name, cmd string) string {
		return strings.NewReplacer("inventory-dev", name, "/inventory", cmd).Replace(inventoryPlaybook)
	}
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"two playbooks, one command", map[string]string{"a.yaml": claim("inventory-a", "/deprovision")},
			[]string{"/deprovision is claimed by 2 playbooks (emergency-deprovision, inventory-a)"}},
		{"firebreak's own command", map[string]string{"a.yaml": claim("inventory-a", "/firebreak")},
			[]string{"playbook inventory-a claims /firebreak"}},
		{"/revoke-dev for another playbook", map[string]string{"a.yaml": claim("inventory-a", "/revoke-dev")},
			[]string{"playbook inventory-a claims /revoke-dev, which starts compromised-dev-key"}},
		{"all at once", map[string]string{"a.yaml": claim("inventory-a", "/x"), "b.yaml": claim("inventory-b", "/x"), "c.yaml": claim("inventory-c", "/firebreak")},
			[]string{"/x is claimed by 2 playbooks (inventory-a, inventory-b)", "inventory-c claims /firebreak"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lib := mustLibrary(t, tc.files)
			_, err := chatops.SlashRoutes(lib)
			if !errors.Is(err, chatops.ErrSlashConflict) {
				t.Fatalf("SlashRoutes: %v; want ErrSlashConflict", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q; want it to say %q", err, w)
				}
			}
			srv, err := chatops.NewServer(chatops.Options{Starter: newFake(), Config: testConfig(), Library: lib, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if srv != nil || !errors.Is(err, chatops.ErrSlashConflict) {
				t.Fatalf("NewServer: %v, %v; want no server and ErrSlashConflict", srv, err)
			}
			// NewHandler still serves health and /firebreak, and says why a command is not
			// answered.
			h := newHarness(t, func(o *chatops.Options) { o.Library = lib })
			m := decodeMsg(t, h.command(t, "U0BOB", "/deprovision", "alice x"))
			if !strings.Contains(m.Text, "misconfigured") || !strings.Contains(m.Text, tc.want[0]) {
				t.Errorf("a command of a conflicting library: %q", m.Text)
			}
		})
	}
	// A playbook that declares /revoke-dev for compromised-dev-key itself is no conflict.
	src, err := os.ReadFile("../playbooks/library/compromised-dev-key.yaml")
	if err != nil {
		t.Fatal(err)
	}
	own := strings.Replace(string(src), "\nsteps:", "\ntriggers:\n  slash: {command: /revoke-dev, args: [subject, reason]}\n\nsteps:", 1)
	if _, err := chatops.SlashRoutes(mustLibrary(t, map[string]string{"compromised-dev-key.yaml": own})); err != nil {
		t.Errorf("compromised-dev-key claiming /revoke-dev: %v", err)
	}
}

// TestPlaybookSlashCommand goes from a signed /deprovision (declared by emergency-deprovision,
// a destructive playbook) through its Confirm button to a started run, then a duplicate
// that answers "already running"; and the refusals on the way.
func TestPlaybookSlashCommand(t *testing.T) {
	h := newHarness(t, func(o *chatops.Options) {
		o.Config.Roles["security-oncall"] = chatops.RoleMembers{Users: []string{"U0BOB"}}
	})
	// Carol is a responder but not security-oncall or security-lead: refused, nothing done.
	m := decodeMsg(t, h.command(t, "U0CAROL", "/deprovision", "<@U0ALICE|alice> laptop stolen"))
	if !strings.Contains(m.Text, "needs one of the roles security-oncall, security-lead") || len(m.Blocks.BlockSet) != 0 {
		t.Errorf("a requester without a start role: %q", m.Text)
	}
	for text, want := range map[string]string{
		"":                     "Usage: `/deprovision @subject reason…`",
		"@mallory left":        "not in firebreak's directory",
		"<@U0MALLORY> left":    "users.info",
		"Alice! laptop stolen": "not in firebreak's directory",
	} {
		if m := decodeMsg(t, h.command(t, "U0BOB", "/deprovision", text)); !strings.Contains(m.Text, want) || len(m.Blocks.BlockSet) != 0 {
			t.Errorf("/deprovision %q: %q; want a refusal containing %q", text, m.Text, want)
		}
	}
	h.srv.Wait()
	if n := h.fake.callCount(); n != 0 {
		t.Fatalf("%d Temporal calls for refused commands; want none", n)
	}

	ack := decodeMsg(t, h.command(t, "U0BOB", "/deprovision", "<@U0ALICE|alice> laptop stolen at the airport"))
	if !strings.Contains(ack.Text, "Emergency deprovision") || !strings.Contains(ack.Text, "<@U0ALICE> (alice)") || !strings.Contains(ack.Text, "reason: laptop stolen at the airport") {
		t.Errorf("confirmation %q; want the playbook, the subject and the reason", ack.Text)
	}
	value := confirmValue(t, ack)
	h.srv.Wait()
	if starts, _ := h.fake.snapshot(); len(starts) != 0 {
		t.Fatalf("a destructive playbook started before confirmation: %+v", starts)
	}
	h.press(t, "U0BOB", chatops.ActionConfirm, value)
	h.srv.Wait()
	starts, _ := h.fake.snapshot()
	if len(starts) != 1 {
		t.Fatalf("%d starts after confirming; want 1", len(starts))
	}
	wantID := workflows.RunWorkflowID("emergency-deprovision", "alice")
	in := starts[0].Input
	if starts[0].Options.ID != wantID || in.Plan.Name != "emergency-deprovision" || in.Inputs["subject"] != "alice" ||
		in.Inputs["reason"] != "laptop stolen at the airport" || in.Trigger.By != "bob" || in.Trigger.Kind != "slack" || in.Report.SlackChannel != "C0SECOPS" {
		t.Errorf("started %s: plan %s inputs %v trigger %+v report %+v", starts[0].Options.ID, in.Plan.Name, in.Inputs, in.Trigger, in.Report)
	}
	if m := h.resp.next(t); !strings.Contains(m.Text, "Started emergency-deprovision") {
		t.Errorf("after confirming: %q", m.Text)
	}
	// The same subject again: one run per subject, "already running".
	h.press(t, "U0BOB", chatops.ActionConfirm, confirmValue(t, decodeMsg(t, h.command(t, "U0BOB", "/deprovision", "alice again"))))
	h.srv.Wait()
	if m := h.resp.next(t); !strings.Contains(m.Text, "already running") || !strings.Contains(m.Text, wantID) {
		t.Errorf("duplicate: %q; want already running with %s", m.Text, wantID)
	}

	// An unknown command lists every command firebreak answers.
	m = decodeMsg(t, h.command(t, "U0BOB", "/nope", "x"))
	if m.ResponseType != slack.ResponseTypeEphemeral || !strings.Contains(m.Text, "does not know the command /nope; it answers /deprovision, /firebreak, /lost-mfa, /revoke-dev") {
		t.Errorf("unknown command: %q", m.Text)
	}
	// /firebreak help lists the playbooks' commands too.
	if m := decodeMsg(t, h.command(t, "U0BOB", "/firebreak", "help")); !strings.Contains(m.Text, "/deprovision @subject reason…") || !strings.Contains(m.Text, "/lost-mfa") {
		t.Errorf("help: %q", m.Text)
	}
}

// A playbook that changes nothing starts right after the acknowledgement, without a button; a
// second request for the same subject joins it.
func TestNonDestructiveSlashCommandStartsAtOnce(t *testing.T) {
	lib := mustLibrary(t, map[string]string{"inventory.yaml": inventoryPlaybook})
	h := newHarness(t, func(o *chatops.Options) { o.Library = lib })
	m := decodeMsg(t, h.command(t, "U0BOB", "/inventory", "alice@example.test routine check"))
	if len(m.Blocks.BlockSet) != 0 || !strings.Contains(m.Text, "Starting inventory-dev") {
		t.Fatalf("acknowledgement %q; want Starting without buttons", m.Text)
	}
	h.srv.Wait()
	starts, _ := h.fake.snapshot()
	if len(starts) != 1 || starts[0].Input.Inputs["subject"] != "alice" || starts[0].Input.Inputs["reason"] != "routine check" {
		t.Fatalf("starts %+v; want inventory-dev for alice (named by email)", starts)
	}
	if m := h.resp.next(t); !strings.Contains(m.Text, "Started inventory-dev") {
		t.Errorf("after the start: %q", m.Text)
	}
	decodeMsg(t, h.command(t, "U0BOB", "/inventory", "alice"))
	h.srv.Wait()
	if m := h.resp.next(t); !strings.Contains(m.Text, "already running") {
		t.Errorf("second request: %q; want already running", m.Text)
	}
}

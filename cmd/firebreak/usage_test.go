package main

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// TestEveryCommandRefusesBadUsage walks the whole command tree: a group given an unknown
// subcommand (a typo such as `audit verfy`) or none, any command given an unknown flag, too
// few or too many arguments, exits 2 and prints the usage line — never help and exit 0, which
// let a script pass a tampered export.
func TestEveryCommandRefusesBadUsage(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1") // nothing may get far enough to dial it
	root := newRoot(io.Discard, io.Discard)
	expect := func(t *testing.T, args []string, want string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), "usage: ") || !strings.Contains(stderr.String(), want) {
			t.Errorf("firebreak %s: exit %d (want %d), stderr lacks the usage line or %q:\n%s%s", strings.Join(args, " "), code, exitUsage, want, stdout.String(), stderr.String())
		}
	}
	probe := func(c *cobra.Command, n int) bool {
		args := make([]string, n)
		for i := range args {
			args[i] = "x"
		}
		return c.Args(c, args) == nil
	}
	var walk func(c *cobra.Command, path []string)
	checked := 0
	walk = func(c *cobra.Command, path []string) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		checked++
		if c.HasSubCommands() {
			expect(t, append(append([]string{}, path...), "nosuchcommand"), `unknown command "nosuchcommand"`)
			expect(t, path, "needs a subcommand")
			for _, sub := range c.Commands() {
				walk(sub, append(append([]string{}, path...), sub.Name()))
			}
			return
		}
		expect(t, append(append([]string{}, path...), "--no-such-flag"), "unknown flag")
		least := 0
		for least < 6 && !probe(c, least) {
			least++
		}
		if least > 0 {
			expect(t, append(append([]string{}, path...), make([]string, least-1)...), "")
		}
		if !probe(c, 7) {
			most := least
			for probe(c, most+1) {
				most++
			}
			extra := append(append([]string{}, path...), strings.Split(strings.Repeat("x ", most+1), " ")[:most+1]...)
			expect(t, extra, "")
		}
	}
	walk(root, nil)
	if checked < 30 {
		t.Fatalf("walked only %d commands; expected the whole tree", checked)
	}
}

// TestAuditVerifyTypoFails is the finding itself: `firebreak audit verfy FILE` used to print
// help and exit 0.
func TestAuditVerifyTypoFails(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"audit", "verfy", "tampered.json"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), `did you mean "verify"`) {
		t.Fatalf("exit %d, stderr %q; want 2 and a did-you-mean", code, stderr.String())
	}
}

// TestPlaybookPathsAreChecked: a --playbooks path that does not exist, is not a playbook or
// holds none is bad usage (it used to be ignored and the bundled playbook drilled PASS);
// graph and explain take a file as well as a name; --dir is the old name of --playbooks.
func TestPlaybookPathsAreChecked(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
	empty := t.TempDir()
	notYAML := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notYAML, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	lib, err := fs.ReadFile(playbooks.BundledFS(), "library/lost-mfa-device.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "mine.yaml")
	if err := os.WriteFile(file, bytes.Replace(lib, []byte("name: lost-mfa-device"), []byte("name: my-lost-mfa"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"drill", "run", "compromised-dev-key", "--playbooks", "/nonexistent"}, exitUsage, "/nonexistent: expected a playbook file or a directory of playbooks, found nothing there"},
		{[]string{"drill", "run", "compromised-dev-key", "--playbooks", notYAML}, exitUsage, "expected a playbook file ending in .yaml"},
		{[]string{"playbook", "validate", empty}, exitUsage, "found none"},
		{[]string{"playbook", "graph", "/nonexistent.yaml"}, exitUsage, "found nothing there"},
		{[]string{"playbook", "graph", file}, exitOK, "flowchart"},
		{[]string{"playbook", "explain", file}, exitOK, "my-lost-mfa"},
		{[]string{"playbook", "explain", "my-lost-mfa", "--playbooks", file}, exitOK, "my-lost-mfa"},
		{[]string{"playbook", "explain", "my-lost-mfa", "--dir", filepath.Dir(file)}, exitOK, "my-lost-mfa"},
		{[]string{"playbook", "validate", "--playbooks", file}, exitOK, "my-lost-mfa"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.want) {
			t.Errorf("firebreak %s: exit %d (want %d), output lacks %q:\n%s%s", strings.Join(tc.args, " "), code, tc.code, tc.want, stdout.String(), stderr.String())
		}
	}
}

// TestValidateStrictFailsOnWarnings: validate --strict treats warnings (here, a playbook that
// changes a system and verifies nothing) as failures.
func TestValidateStrictFailsOnWarnings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "unverified.yaml")
	src := `name: unverified
title: Changes but checks nothing
severity: high
steps:
  - id: inv
    action: vault.inventory
    with: {subject: x}
  - id: snap
    action: evidence.snapshot
    needs: [inv]
    with: {subject: x, data: {v: "${{ steps.inv.outputs }}"}}
  - id: revoke
    action: vault.revoke_tokens
    needs: [snap]
    with: {accessors: "${{ steps.inv.outputs.accessors }}"}
`
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"playbook", "validate", file}, exitOK},
		{[]string{"playbook", "validate", "--strict", file}, exitFailed},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != tc.code {
			t.Errorf("firebreak %s: exit %d, want %d:\n%s%s", strings.Join(tc.args, " "), code, tc.code, stdout.String(), stderr.String())
		}
	}
}

// TestDrillOfUnverifiedPlaybookFails: a drill given a playbook file that changes a system and
// verifies nothing does not PASS, even though its run contained the subject.
func TestDrillOfUnverifiedPlaybookFails(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	file := filepath.Join(t.TempDir(), "unverified.yaml")
	src := `name: unverified
title: Changes but checks nothing
severity: high
steps:
  - id: inv
    action: vault.inventory
    with: {subject: alice}
  - id: snap
    action: evidence.snapshot
    needs: [inv]
    with: {subject: alice, data: {v: "${{ steps.inv.outputs }}"}}
  - id: revoke
    action: vault.revoke_tokens
    needs: [snap]
    with: {accessors: "${{ steps.inv.outputs.accessors }}"}
`
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"drill", "run", file, "--evidence-dir", t.TempDir()}, &stdout, &stderr)
	if code != exitFailed || !strings.Contains(stdout.String(), "verifies nothing") {
		t.Fatalf("exit %d (want %d), scorecard lacks the reason:\n%s%s", code, exitFailed, stdout.String(), stderr.String())
	}
}

// TestActionsMarkIrreversible: `firebreak actions` marks the actions that cannot be undone
// (README says it does), and --json gives durations as "30s", not nanoseconds.
func TestActionsMarkIrreversible(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"actions"}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "awsiam.delete_keys [destructive] [irreversible") || strings.Contains(stdout.String(), "vault.revoke_tokens [destructive] [irreversible") {
		t.Fatalf("exit %d; want delete_keys marked irreversible and revoke_tokens not:\n%s", code, stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"actions", "--json"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	var list []map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &list); err != nil || len(list) == 0 {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if to, _ := list[0]["timeout"].(string); to == "" || strings.Trim(to, "0123456789") == "" {
		t.Fatalf("timeout %v (%T); want a duration like 30s", list[0]["timeout"], list[0]["timeout"])
	}
}

// TestThrowawayServerHint: audit list, drill history and audit metrics on the empty embedded
// server a command starts without TEMPORAL_ADDRESS say why they show nothing.
func TestThrowawayServerHint(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	t.Setenv("FIREBREAK_STATE_DIR", t.TempDir())
	for _, args := range [][]string{{"audit", "list"}, {"drill", "history"}, {"audit", "metrics"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitOK || !strings.Contains(stderr.String(), "TEMPORAL_ADDRESS is unset, so this command started its own empty") {
			t.Errorf("firebreak %s: exit %d, stderr lacks the hint:\n%s", strings.Join(args, " "), code, stderr.String())
		}
	}
}

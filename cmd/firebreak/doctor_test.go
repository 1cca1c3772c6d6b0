package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/activities/preflight"
	fbvault "github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/testenv/devserver"
)

// TestDoctorNeedsMatchPolicy keeps the doctor's Vault probes in step with the shipped policy:
// each path block is probed with exactly its capabilities, at a path it covers.
func TestDoctorNeedsMatchPolicy(t *testing.T) {
	src, err := os.ReadFile("../../deploy/vault-policy.hcl")
	if err != nil {
		t.Fatal(err)
	}
	pol, err := fbvault.ParsePolicy("firebreak", string(src))
	if err != nil {
		t.Fatal(err)
	}
	rules := pol.Rules()
	if len(rules) != len(fbvault.PolicyNeeds) {
		t.Errorf("deploy/vault-policy.hcl has %d path blocks; the doctor probes %d", len(rules), len(fbvault.PolicyNeeds))
	}
	for _, r := range rules {
		i := slices.IndexFunc(fbvault.PolicyNeeds, func(n fbvault.PolicyNeed) bool { return n.Pattern == r.Pattern })
		if i < 0 {
			t.Errorf("the doctor does not probe %s", r.Pattern)
			continue
		}
		n := fbvault.PolicyNeeds[i]
		if !slices.Equal(n.Capabilities, r.Capabilities) {
			t.Errorf("%s: doctor probes %v; policy grants %v", r.Pattern, n.Capabilities, r.Capabilities)
		}
		if !matchVaultPattern(r.Pattern, n.Probe) {
			t.Errorf("probe %s is not covered by %s", n.Probe, r.Pattern)
		}
	}
}

// TestDoctor runs the doctor against the sandbox with a good configuration and with one broken
// credential per integration.
func TestDoctor(t *testing.T) {
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	policy, err := os.ReadFile("../../deploy/vault-policy.hcl")
	if err != nil {
		t.Fatal(err)
	}
	sb.Vault.PutPolicy("firebreak", string(policy))
	sb.Vault.EnableAppRole(testenv.VaultAppRoleID, testenv.VaultAppRoleSecretID, time.Hour, "firebreak")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{Namespace: "default", Logger: newDiscardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Stop() }()

	type want struct{ integration, check, status string }
	tests := []struct {
		name string
		env  map[string]string
		code int
		want []want
	}{
		{name: "all good", code: exitOK, env: map[string]string{"FIREBREAK_AWS_PROBE_USER": "alice", "TEMPORAL_ADDRESS": srv.FrontendHostPort()},
			want: []want{{"vault", "token", preflight.OK}, {"vault", "capabilities", preflight.OK}, {"aws", "iam", preflight.OK}, {"slack", "auth.test", preflight.OK}, {"pagerduty", "api", preflight.OK}, {"temporal", "health", preflight.OK}}},
		{name: "approle login with the shipped policy", code: exitOK,
			env:  map[string]string{"VAULT_TOKEN": "", "VAULT_ROLE_ID": testenv.VaultAppRoleID, "VAULT_SECRET_ID": testenv.VaultAppRoleSecretID},
			want: []want{{"vault", "token", preflight.OK}, {"vault", "capabilities", preflight.OK}, {"aws", "iam", preflight.Unverified}, {"temporal", "health", preflight.Skipped}}},
		{name: "vault: wrong token", code: exitFailed, env: map[string]string{"VAULT_TOKEN": "hvs.not-a-token"},
			want: []want{{"vault", "token", preflight.Failed}, {"slack", "auth.test", preflight.OK}}},
		{name: "vault: token without firebreak's policy", code: exitFailed, env: map[string]string{"VAULT_TOKEN": "hvs.bob-laptop-" + testenv.Canary + "-0003"},
			want: []want{{"vault", "token", preflight.OK}, {"vault", "capabilities", preflight.Failed}}},
		{name: "vault: wrong approle secret", code: exitFailed, env: map[string]string{"VAULT_TOKEN": "", "VAULT_ROLE_ID": testenv.VaultAppRoleID, "VAULT_SECRET_ID": "wrong"},
			want: []want{{"vault", "login", preflight.Failed}}},
		{name: "vault: no credential", code: exitFailed, env: map[string]string{"VAULT_TOKEN": ""},
			want: []want{{"vault", "login", preflight.Failed}}},
		{name: "aws: wrong secret key", code: exitFailed, env: map[string]string{"AWS_SECRET_ACCESS_KEY": "wrong-secret", "FIREBREAK_AWS_PROBE_USER": "alice"},
			want: []want{{"aws", "credentials", preflight.OK}, {"aws", "iam", preflight.Failed}}},
		{name: "slack: wrong token", code: exitFailed, env: map[string]string{"SLACK_BOT_TOKEN": "xoxb-wrong"},
			want: []want{{"slack", "auth.test", preflight.Failed}, {"vault", "capabilities", preflight.OK}}},
		{name: "pagerduty: wrong token", code: exitFailed, env: map[string]string{"PAGERDUTY_TOKEN": "wrong"},
			want: []want{{"pagerduty", "api", preflight.Failed}}},
		{name: "pagerduty: no From", code: exitFailed, env: map[string]string{"PAGERDUTY_FROM": ""},
			want: []want{{"pagerduty", "api", preflight.OK}, {"pagerduty", "from", preflight.Failed}}},
		{name: "temporal: nothing listening", code: exitFailed, env: map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:1"},
			want: []want{{"temporal", "health", preflight.Failed}}},
		{name: "temporal: bad codec key", code: exitFailed, env: map[string]string{"FIREBREAK_CODEC_KEY": "not-base64"},
			want: []want{{"temporal", "codec", preflight.Failed}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sandboxEnv(t, sb)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := run([]string{"doctor", "--json", "--timeout", "3s"}, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d; expected %d\n%s%s", code, tc.code, stdout.String(), stderr.String())
			}
			var rep preflight.Report
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("%v: %s", err, stdout.String())
			}
			for _, w := range tc.want {
				i := slices.IndexFunc(rep.Checks, func(c preflight.Result) bool { return c.Integration == w.integration && c.Check == w.check })
				if i < 0 {
					t.Errorf("no %s %s check in %+v", w.integration, w.check, rep.Checks)
					continue
				}
				if c := rep.Checks[i]; c.Status != w.status {
					t.Errorf("%s %s: %s (%s); expected %s", w.integration, w.check, c.Status, c.Detail, w.status)
				}
			}
			if testenv.ContainsCanary(stdout.String() + stderr.String()) {
				t.Error("the report holds a secret")
			}
		})
	}

	// Without --json the report is a table, and failures still exit 1.
	sandboxEnv(t, sb)
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-wrong")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"doctor", "--skip", "temporal"}, &stdout, &stderr); code != exitFailed || !strings.Contains(stdout.String(), "FAILED     slack") {
		t.Errorf("exit %d:\n%s", code, stdout.String())
	}
	if code := run([]string{"doctor", "--skip", "nonsense"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("--skip nonsense: exit %d; expected %d", code, exitUsage)
	}
}

// TestDoctorChecksTheDirectory: firebreak doctor finds each directory entry's Vault identity
// and names the one whose alias is on an auth mount Vault does not have.
func TestDoctorChecksTheDirectory(t *testing.T) {
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	for _, tc := range []struct {
		name, yaml, status, detail string
	}{
		{"found", "directory:\n  - subject: dave\n    email: dave@example.test\n    vault: {alias: {mount: userpass, name: dave@example.test}}\n    aws: none\n", preflight.OK, "all 1 directory entries"},
		{"no such mount", "directory:\n  - subject: alice\n    email: alice@example.test\n    vault: {alias: {mount: oidc, name: alice@example.test}}\n", preflight.Failed, "no auth method mounted there"},
		{"no such entity id", "directory:\n  - subject: alice\n    email: alice@example.test\n    vault: {entity_id: 00000000-0000-0000-0000-000000000000}\n", preflight.Failed, "Vault has no entity with that id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sandboxEnv(t, sb)
			path := filepath.Join(t.TempDir(), "firebreak.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			run([]string{"doctor", "--json", "--timeout", "3s", "--config", path, "--skip", "aws,slack,pagerduty,temporal,oidc,evidence"}, &stdout, &stderr)
			var rep preflight.Report
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatalf("%v: %s%s", err, stdout.String(), stderr.String())
			}
			i := slices.IndexFunc(rep.Checks, func(c preflight.Result) bool { return c.Integration == "vault" && c.Check == "directory" })
			if i < 0 || rep.Checks[i].Status != tc.status || !strings.Contains(rep.Checks[i].Detail, tc.detail) {
				t.Fatalf("vault directory check in %+v; want %s mentioning %q", rep.Checks, tc.status, tc.detail)
			}
		})
	}
}

package main

import (
	"context"
	"encoding/json"
	"os"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	fbvault "github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/drills"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/testenv"
)

// vaultSudoPaths are root-protected in Vault: listing them needs sudo besides list.
var vaultSudoPaths = map[string]bool{"auth/token/accessors": true}

// TestDeployPoliciesAreLeastPrivilege drills every bundled playbook and checks the shipped
// policies against what the activities really called: every Vault request and IAM action is
// allowed by deploy/vault-policy.hcl and deploy/iam-policy.json, and every permission those
// files grant was used.
func TestDeployPoliciesAreLeastPrivilege(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "")
	ctx := context.Background()
	rg, err := startRig(ctx, newDiscardLogger(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rg.Close()
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	vaultCalls := map[string]bool{} // "capability path"
	iamCalls := map[string]bool{}
	// record keeps the calls a drill made; the sandbox is seeded afresh for each drill.
	record := func(name string, card drills.Scorecard) {
		t.Helper()
		if !card.Passed {
			t.Fatalf("drill %s failed: %s %s", name, card.Error, card.FailureCause)
		}
		for _, c := range rg.Sandbox().Recorder.Calls("vault") {
			method, p, _ := strings.Cut(c.Op, " ")
			capability, ok := map[string]string{"GET": "read", "LIST": "list", "POST": "update", "PUT": "update", "DELETE": "delete"}[method]
			if !ok {
				continue // not a Vault API call (e.g. a stray HTTP/2 preface from a client of a port's earlier owner)
			}
			if p == "sys/internal/ui/resultant-acl" {
				continue // asked with the probe token (the default policy grants it), not firebreak's
			}
			vaultCalls[capability+" "+p] = true
			if capability == "update" && strings.HasPrefix(p, "secret/data/") {
				vaultCalls["create "+p] = true // a KV write may make a new secret: Vault asks for create then
			}
			if vaultSudoPaths[p] || strings.HasPrefix(p, "sys/leases/revoke-prefix/") {
				vaultCalls["sudo "+p] = true
			}
		}
		for _, c := range rg.Sandbox().Recorder.Calls("iam") {
			if strings.ContainsAny(c.Op, " /*") {
				continue // not an IAM Action (see above)
			}
			iamCalls["iam:"+c.Op] = true
		}
	}
	for _, name := range lib.Names() {
		p, _ := lib.Get(name)
		raw := map[string]string{}
		for k, v := range p.DrillInputs() {
			raw[k] = v
		}
		if _, ok := raw["subject"]; !ok && p.HasInput("subject") {
			raw["subject"] = "alice"
		}
		inputs, err := p.BindInputs(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		record(name, rg.Drill(ctx, p, inputs, drills.Settings{Timeout: 2 * time.Minute}))
	}
	// Actions no bundled playbook uses yet, run as `firebreak action run` would: the policies
	// must let an operator use every action in the catalog.
	for _, a := range []struct {
		name string
		args map[string]string
	}{
		{"awsiam.rotate_key", map[string]string{"user": "carol"}},
		// dave is found only through the directory's alias (identity/lookup/entity).
		{"vault.inventory", map[string]string{"subject": "dave"}},
		{"awsiam.delete_keys", map[string]string{"user": "bob", "access_key_ids": "AKFBSANDBOXBOB000002"}},
		{"vault.revoke_lease_prefix", map[string]string{"prefix": "database/creds/dev-alice/"}},
		{"vault.destroy_totp", map[string]string{"entity_id": rg.Sandbox().Vault.EntityID("alice"), "method_id": testenv.VaultTOTPMethodID}},
		{"oidc.revoke_token", map[string]string{"path": testenv.PortalTokenPath("alice")}},
	} {
		// Irreversible ones wait at their two-person gate, which the drill bot grants: the
		// drill runs on the embedded server with AutoApprove, as drill run does.
		p, inputs, err := playbooks.ActionPlan(a.name, a.args, []string{playbooks.DefaultApproveRole})
		if err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
		record(a.name, rg.Drill(ctx, p, inputs, drills.Settings{Timeout: 2 * time.Minute, AutoApprove: true, AutoApproveSet: true}))
	}
	if len(vaultCalls) == 0 || len(iamCalls) == 0 {
		t.Fatal("no calls recorded")
	}

	src, err := os.ReadFile("../../deploy/vault-policy.hcl")
	if err != nil {
		t.Fatal(err)
	}
	pol, err := fbvault.ParsePolicy("firebreak", string(src))
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for call := range vaultCalls {
		capability, p, _ := strings.Cut(call, " ")
		if !pol.Allows(p, capability) {
			t.Errorf("deploy/vault-policy.hcl does not grant %s on %s, which an activity called", capability, p)
		}
		for _, r := range pol.Rules() {
			if matchVaultPattern(r.Pattern, p) {
				used[capability+" "+r.Pattern] = true
			}
		}
	}
	for _, r := range pol.Rules() {
		for _, c := range r.Capabilities {
			if !used[c+" "+r.Pattern] {
				t.Errorf("deploy/vault-policy.hcl grants %s on %s, which no activity used", c, r.Pattern)
			}
		}
	}

	var doc struct {
		Statement []struct {
			Effect string
			Action []string
		}
	}
	b, err := os.ReadFile("../../deploy/iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, st := range doc.Statement {
		for _, a := range st.Action {
			granted[a] = st.Effect == "Allow"
		}
	}
	for a := range iamCalls {
		if !granted[a] {
			t.Errorf("deploy/iam-policy.json does not allow %s, which an activity called", a)
		}
	}
	var unused []string
	for a := range granted {
		if !iamCalls[a] {
			unused = append(unused, a)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("deploy/iam-policy.json allows %v, which no activity used", unused)
	}
}

// matchVaultPattern reports whether a policy path pattern (exact, trailing *, + segments)
// covers p.
func matchVaultPattern(pattern, p string) bool {
	if strings.HasSuffix(pattern, "*") {
		prefix := strings.TrimSuffix(pattern, "*")
		if !strings.Contains(prefix, "+") {
			return strings.HasPrefix(p, prefix)
		}
	}
	ok, _ := path.Match(strings.ReplaceAll(pattern, "+", "*"), p)
	return ok
}

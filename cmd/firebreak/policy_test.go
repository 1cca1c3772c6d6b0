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
	"github.com/firebreak-dev/firebreak/playbooks"
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
	rg, err := startRig(ctx, newDiscardLogger(), t.TempDir())
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
	for _, name := range lib.Names() {
		p, _ := lib.Get(name)
		raw := map[string]string{}
		for k, v := range p.DrillInputs() {
			raw[k] = v
		}
		if _, ok := raw["subject"]; !ok && hasInput(p, "subject") {
			raw["subject"] = "alice"
		}
		inputs, err := p.BindInputs(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		card := rg.drill(ctx, p, inputs, drillFlags{timeout: 2 * time.Minute})
		if !card.Passed {
			t.Fatalf("drill %s failed: %s %s", name, card.Error, card.FailureCause)
		}
		for _, c := range rg.sb.Recorder.Calls("vault") {
			method, p, _ := strings.Cut(c.Op, " ")
			capability := map[string]string{"GET": "read", "LIST": "list", "POST": "update", "PUT": "update", "DELETE": "delete"}[method]
			vaultCalls[capability+" "+p] = true
			if vaultSudoPaths[p] {
				vaultCalls["sudo "+p] = true
			}
		}
		for _, c := range rg.sb.Recorder.Calls("iam") {
			iamCalls["iam:"+c.Op] = true
		}
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

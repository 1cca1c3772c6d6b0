package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/firebreak-dev/firebreak"

var vendorSDKs = []string{
	"github.com/slack-go/slack",
	"github.com/PagerDuty/go-pagerduty",
	"github.com/hashicorp/vault/api",
	"github.com/aws/aws-sdk-go-v2",
}

// TestImportDirections enforces the package map of DESIGN.md on direct (non-test) imports:
// playbooks ← workflows ← runs ← chatops, audit ← drills ← cmd, activities/* ← workflows; only
// cmd, drills (and tests) may import testenv, so no production path can reach the sandbox and
// vice versa; only cmd imports drills; only cmd and service import config, and only cmd
// imports service. Inside testenv, each fake (testenv/*fake) is its protocol on the shared base
// (testenv/fakebase) and the organisation (testenv/seed): it imports no other fake and not the
// sandbox that composes them.
func TestImportDirections(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, imp := range p.Imports {
			if why := forbidden(rel, imp); why != "" {
				t.Errorf("%s imports %s: %s", rel, imp, why)
			}
		}
	}
	if seen < 8 {
		t.Fatalf("only %d packages listed; expected the whole module", seen)
	}
}

func forbidden(pkg, imp string) string {
	own := strings.HasPrefix(imp, module+"/")
	target := strings.TrimPrefix(imp, module+"/")
	isVendor := false
	for _, v := range vendorSDKs {
		if imp == v || strings.HasPrefix(imp, v+"/") {
			isVendor = true
		}
	}
	top := func(s string) string { return strings.SplitN(s, "/", 2)[0] }
	switch {
	case own && top(target) == "cmd":
		return "nothing imports the command"
	case own && top(target) == "config" && top(pkg) != "cmd" && top(pkg) != "service":
		return "only cmd and service (whose constructors take the settings cmd resolved) import config"
	case own && top(target) == "service" && top(pkg) != "cmd":
		return "only cmd assembles a process"
	case own && top(target) == "testenv" && top(pkg) != "cmd" && top(pkg) != "testenv" && top(pkg) != "drills":
		return "only cmd, drills and tests may import the sandbox"
	case own && top(target) == "drills" && top(pkg) != "cmd" && top(pkg) != "drills":
		return "only cmd drives drills"
	case own && top(target) == "observability" && top(pkg) != "cmd":
		return "only cmd wires observability in"
	}
	if why := withinTestenv(pkg, own, target); why != "" {
		return why
	}
	switch top(pkg) {
	case "secretscan":
		if own || strings.HasPrefix(imp, "go.temporal.io/") || isVendor {
			return "secretscan is a leaf: stdlib and gitleaks' rules only"
		}
	case "playbooks":
		if (own && target != "secretscan") || strings.HasPrefix(imp, "go.temporal.io/") || isVendor {
			return "playbooks is plain data: stdlib, yaml, CEL and the secret scanner only"
		}
	case "workflows":
		if isVendor {
			return "workflows never hold a vendor client"
		}
		if own && top(target) != "playbooks" && top(target) != "activities" {
			return "workflows may import only playbooks and activities"
		}
	case "activities":
		if own && target != "secretscan" && target != "activities/preflight" {
			return "an activities package stands alone (it may use the secret scanner and the preflight result type)"
		}
		if strings.HasPrefix(imp, "go.temporal.io/") && !strings.HasPrefix(imp, "go.temporal.io/sdk/") {
			return "activities use only the Temporal SDK"
		}
	case "runs":
		if isVendor {
			return "runs talks to Temporal, never to a vendor"
		}
		if own && top(target) != "playbooks" && top(target) != "workflows" {
			return "runs may import only playbooks and workflows"
		}
	case "chatops":
		if own && top(target) != "playbooks" && top(target) != "workflows" && top(target) != "runs" && target != "secretscan" {
			return "chatops may import only playbooks, workflows, runs and the secret scanner"
		}
	case "drills":
		if isVendor {
			return "drills run against the sandbox, never a vendor client"
		}
		if own && !slices.Contains([]string{"playbooks", "workflows", "runs", "testenv", "audit", "activities"}, top(target)) {
			return "drills may import only playbooks, workflows, runs, activities, testenv and audit"
		}
	case "service":
		if own && !slices.Contains([]string{"config", "runs", "workflows", "playbooks", "activities", "codecserver", "chatops"}, top(target)) {
			return "service may import only config, runs, workflows, playbooks, activities, chatops and codecserver"
		}
		if strings.HasPrefix(imp, "go.temporal.io/server/") {
			return "service dials Temporal; the embedded server is cmd's to hand in (the noserver build leaves it out)"
		}
	case "config":
		if isVendor || strings.HasPrefix(imp, "go.temporal.io/") {
			return "config reads Vault only through the function cmd gives it"
		}
		if own && top(target) != "chatops" && top(target) != "playbooks" {
			return "config may import only chatops (the types it folds in) and playbooks (its did-you-mean)"
		}
	case "observability":
		if isVendor {
			return "observability watches workflows and activities, never a vendor client"
		}
		if own && top(target) != "playbooks" && top(target) != "workflows" && top(target) != "activities" {
			return "observability may import only playbooks, workflows and activities"
		}
	case "audit":
		if isVendor {
			return "audit reads Temporal history, never a vendor client"
		}
		if own && top(target) != "playbooks" && top(target) != "workflows" && top(target) != "runs" && target != "activities/evidence" {
			return "audit may import only playbooks, workflows, runs and activities/evidence"
		}
		if strings.HasPrefix(imp, "go.temporal.io/sdk/") && imp != "go.temporal.io/sdk/client" && imp != "go.temporal.io/sdk/converter" {
			return "audit uses only the SDK's client and converter"
		}
	}
	return ""
}

// withinTestenv keeps the sandbox's layers apart: fakebase is what every fake shares, seed is
// the organisation they are seeded with, each fake is one protocol on those two (and on the
// activities package whose parser it borrows, as vaultfake borrows Vault's policy parser), and
// only testenv itself composes fakes.
func withinTestenv(pkg string, own bool, target string) string {
	sub, ok := strings.CutPrefix(pkg, "testenv/")
	if !ok || !own {
		return ""
	}
	switch {
	case sub == "fakebase":
		return "fakebase is the base of every fake: the standard library only"
	case sub == "seed" && target != "testenv/fakebase" && target != "playbooks":
		return "seed is data: fakebase (the canary) and playbooks (the directory's types) only"
	case strings.HasSuffix(sub, "fake") && target != "testenv/fakebase" && target != "testenv/seed" && !strings.HasPrefix(target, "activities/"):
		return "a fake is its protocol on fakebase and seed: it imports no other fake and not the sandbox"
	}
	return ""
}

// The rules inside testenv hold for imports that do not exist yet.
func TestImportRulesInsideTestenv(t *testing.T) {
	for _, c := range []struct {
		pkg, imp string
		allowed  bool
	}{
		{"testenv/slackfake", "testenv/fakebase", true},
		{"testenv/slackfake", "testenv/seed", true},
		{"testenv/vaultfake", "activities/vault", true},
		{"testenv", "testenv/slackfake", true},
		{"drills", "testenv/vaultfake", true},
		{"testenv/slackfake", "testenv/vaultfake", false},
		{"testenv/slackfake", "testenv", false},
		{"testenv/fakebase", "testenv/seed", false},
		{"testenv/seed", "testenv/vaultfake", false},
		{"activities/vault", "testenv/vaultfake", false},
		{"runs", "testenv/fakebase", false},
	} {
		why := forbidden(c.pkg, module+"/"+c.imp)
		if (why == "") != c.allowed {
			t.Errorf("%s importing %s: allowed %v, expected %v (%s)", c.pkg, c.imp, why == "", c.allowed, why)
		}
	}
}

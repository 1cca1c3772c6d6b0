package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

// Verdicts of a scorecard.
const (
	VerdictPass = "PASS"
	VerdictFail = "FAIL"
	// VerdictRemediationPending: nothing failed and the subject is contained, but some secrets
	// are left for their owners to rotate and nothing checked that they were. Not a pass; the
	// exit code is still 0 (no check failed), and --json carries remediation_pending.
	VerdictRemediationPending = "CONTAINED, REMEDIATION PENDING"
)

// cardVerdict is what a scorecard says of its run.
func cardVerdict(c Scorecard) string {
	switch {
	case !c.Passed:
		return VerdictFail
	case len(c.RemediationPending) > 0:
		return VerdictRemediationPending
	}
	return VerdictPass
}

// rotationLines describes, for the scorecard, what each rotation step did to each secret:
// rotated (and how), left to a person (and whose), or failed (and why). Only "rotated" lines
// are rotations: the credential changed where it is checked.
func rotationLines(c Scorecard) []string {
	var out []string
	list := func(s workflows.StepResult, name string) []map[string]any {
		raw, _ := s.Outputs[name].([]any)
		var ms []map[string]any
		for _, it := range raw {
			if m, ok := it.(map[string]any); ok {
				ms = append(ms, m)
			}
		}
		return ms
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	for _, s := range c.Steps {
		switch s.Action {
		case "vault.rotate_secrets":
			for _, m := range list(s, "rotated") {
				how := str(m, "strategy")
				if up := str(m, "upstream"); up != "" {
					how += " via " + up
				}
				out = append(out, fmt.Sprintf("✓ rotated %s/%s: %s, version %v → %v", str(m, "mount"), str(m, "path"), orDash(how), m["previous_version"], m["new_version"]))
			}
			for _, m := range list(s, "failed") {
				out = append(out, fmt.Sprintf("✗ failed %s/%s (%s): %s", str(m, "mount"), str(m, "path"), str(m, "kind"), str(m, "error")))
			}
		case "vault.plan_rotation":
			for _, m := range list(s, "problems") {
				out = append(out, fmt.Sprintf("✗ cannot rotate %s/%s as marked (%s): %s", str(m, "mount"), str(m, "path"), str(m, "kind"), str(m, "error")))
			}
		}
	}
	for _, p := range c.RemediationPending {
		out = append(out, fmt.Sprintf("… pending %s/%s: left to its owner %s (not rotated by firebreak, not checked)", p.Mount, p.Path, orDash(p.Owner)))
	}
	return out
}

// upstreamChecks asks the sandbox's own systems whether each rotation the run reports happened
// where the credential is checked, not only in Vault's copy: for database:, the database
// refuses the previous version's password and accepts the new one; for service:, the rotation
// service refuses the previous value and accepts the new one; for generate:, the named fields
// changed and no other did. Details never carry values.
func upstreamChecks(sb *testenv.Sandbox, c Scorecard) []workflows.Check {
	var out []workflows.Check
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	num := func(m map[string]any, k string) int {
		switch n := m[k].(type) {
		case float64:
			return int(n)
		case int:
			return n
		case int64:
			return int(n)
		}
		return 0
	}
	for _, s := range c.Steps {
		if s.Action != "vault.rotate_secrets" {
			continue
		}
		raw, _ := s.Outputs["rotated"].([]any)
		for _, it := range raw {
			m, _ := it.(map[string]any)
			mount, path, strategy := str(m, "mount"), str(m, "path"), str(m, "strategy")
			prev, okPrev := sb.Vault.SecretVersion(mount, path, num(m, "previous_version"))
			cur, okCur := sb.Vault.SecretVersion(mount, path, num(m, "new_version"))
			ck := workflows.Check{Step: s.ID, Name: "rotated upstream: " + mount + "/" + path}
			kind, arg, _ := strings.Cut(strategy, ":")
			switch {
			case !okPrev || !okCur:
				ck.Detail = fmt.Sprintf("versions %v and %v not both in the sandbox's Vault", m["previous_version"], m["new_version"])
			case kind == "database":
				dbMount := arg[:max(strings.LastIndex(arg, "/"), 0)]
				user := cur["username"]
				oldOK, newOK := sb.Vault.DatabaseLogin(dbMount, user, prev["password"]), sb.Vault.DatabaseLogin(dbMount, user, cur["password"])
				ck.Passed = !oldOK && newOK
				ck.Detail = fmt.Sprintf("the database refuses %s's previous password: %v; accepts the copy's: %v", user, !oldOK, newOK)
			case kind == "service" && strings.HasPrefix(arg, testenv.SecretServiceName+"/"):
				cred := arg[strings.LastIndex(arg, "/")+1:]
				ck.Passed = true
				var fields []string
				for f, v := range cur {
					if prev[f] != v {
						fields = append(fields, f)
						ck.Passed = ck.Passed && !sb.PaymentsAdmin.Valid(cred, prev[f]) && sb.PaymentsAdmin.Valid(cred, v)
					}
				}
				ck.Passed = ck.Passed && len(fields) > 0
				slices.Sort(fields)
				ck.Detail = fmt.Sprintf("%s refuses the previous %s and accepts the copy's: %v", testenv.SecretServiceName, strings.Join(fields, ", "), ck.Passed)
			case kind == "generate":
				named := strings.Split(arg, ",")
				ck.Passed = len(prev) == len(cur)
				for f, v := range prev {
					changed := cur[f] != v
					ck.Passed = ck.Passed && changed == slices.Contains(named, f)
				}
				ck.Detail = fmt.Sprintf("%s changed and no other field: %v", arg, ck.Passed)
			default:
				continue // nothing in the sandbox to ask
			}
			out = append(out, ck)
		}
	}
	return out
}

package main

import (
	"fmt"

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

package playbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// PlanSHA256 is the digest of a compiled plan as a workflow receives it: the SHA-256 of its
// JSON encoding (every field that reaches the interpreter; warnings do not).
func PlanSHA256(p Plan) string {
	b, err := json.Marshal(p)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ActionPlanPrefix starts the names of the one-step plans `firebreak action run` compiles
// for a single catalog action; they are not in any library.
const ActionPlanPrefix = "action-"

// ErrPlanNotCompiled is wrapped by Verify's errors: the plan is not one this library compiles.
var ErrPlanNotCompiled = errors.New("plan is not one this worker compiled")

// Verify checks that p is the plan the library compiles for p.Name, byte for byte (PlanSHA256),
// so a hand-made or edited plan — a gate removed, two_person_opt_out set — is refused
// whatever name and source digest it claims. A one-step action plan (ActionPlanPrefix), which
// no library holds, must keep the two-person rule: the interpreter then refuses any
// irreversible step, or compensation, that no granted approval precedes. It returns what was
// checked.
func (l *Library) Verify(p Plan) (string, error) {
	got := PlanSHA256(p)
	want, ok := l.plans[p.Name]
	if !ok {
		if strings.HasPrefix(p.Name, ActionPlanPrefix) {
			if p.TwoPersonOptOut {
				return "", fmt.Errorf("%w: action plan %s opts out of the two-person rule (two_person_opt_out), which only a playbook in the worker's library may do", ErrPlanNotCompiled, p.Name)
			}
			return "action plan " + p.Name + " (sha256 " + got + "): two-person rule kept, irreversible steps need a granted approval", nil
		}
		return "", fmt.Errorf("%w: no playbook named %q in the worker's library (known: %s); add it to the worker's playbook directory", ErrPlanNotCompiled, p.Name, strings.Join(l.Names(), ", "))
	}
	if exp := PlanSHA256(*want); got != exp {
		return "", fmt.Errorf("%w: plan %s has sha256 %s, but the worker's own compilation of %s (source sha256 %s) has sha256 %s: the plan was made or edited by hand, or compiled from another version of the playbook", ErrPlanNotCompiled, p.Name, got, want.SourceFile, want.SourceSHA256, exp)
	}
	return "compiled by this worker from " + want.SourceFile + " (plan sha256 " + got + ")", nil
}

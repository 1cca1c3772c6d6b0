package playbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

// SetActionApproveRoles sets the roles whose members approve an irreversible single action
// this worker runs (its configuration, FIREBREAK_APPROVE_ROLE); none means
// DefaultApproveRole. The caller of a single action does not choose them: Verify recompiles
// the action plan with these roles.
func (l *Library) SetActionApproveRoles(roles []string) {
	l.actionRoles = nil
	for _, r := range roles {
		if r = strings.TrimSpace(r); r != "" {
			l.actionRoles = append(l.actionRoles, r)
		}
	}
}

// ActionApproveRoles returns the roles that approve an irreversible single action on this
// worker.
func (l *Library) ActionApproveRoles() []string {
	if len(l.actionRoles) == 0 {
		return []string{DefaultApproveRole}
	}
	return slices.Clone(l.actionRoles)
}

// Verify checks that p is the plan the library compiles for p.Name, byte for byte (PlanSHA256),
// so a hand-made or edited plan — a gate removed, two_person_opt_out set — is refused
// whatever name and source digest it claims. A one-step action plan (ActionPlanPrefix), which
// no library holds, is recompiled from act — the action and its raw arguments the run was
// started with — and the worker's own approver roles (ActionApproveRoles), and must match
// byte for byte too. It returns what was checked.
func (l *Library) Verify(p Plan, act *ActionRequest) (string, error) {
	got := PlanSHA256(p)
	want, ok := l.plans[p.Name]
	if !ok {
		if strings.HasPrefix(p.Name, ActionPlanPrefix) {
			return l.verifyAction(p, got, act)
		}
		return "", fmt.Errorf("%w: no playbook named %q in the worker's library (known: %s); add it to the worker's playbook directory", ErrPlanNotCompiled, p.Name, strings.Join(l.Names(), ", "))
	}
	if exp := PlanSHA256(*want); got != exp {
		return "", fmt.Errorf("%w: plan %s has sha256 %s, but the worker's own compilation of %s (source sha256 %s) has sha256 %s: the plan was made or edited by hand, or compiled from another version of the playbook", ErrPlanNotCompiled, p.Name, got, want.SourceFile, want.SourceSHA256, exp)
	}
	return "compiled by this worker from " + want.SourceFile + " (plan sha256 " + got + ")", nil
}

func (l *Library) verifyAction(p Plan, got string, act *ActionRequest) (string, error) {
	if act == nil || act.Action == "" {
		return "", fmt.Errorf("%w: action plan %s came without the action request (action and arguments) it was compiled from, so the worker cannot compile it itself", ErrPlanNotCompiled, p.Name)
	}
	if name := ActionPlanName(act.Action); name != p.Name {
		return "", fmt.Errorf("%w: plan is named %s, but the action request is for %s, whose plan is %s", ErrPlanNotCompiled, p.Name, act.Action, name)
	}
	roles := l.ActionApproveRoles()
	want, _, err := ActionPlan(act.Action, act.Args, roles)
	if err != nil {
		return "", fmt.Errorf("%w: the worker cannot compile action %s with its approver roles [%s]: %v", ErrPlanNotCompiled, act.Action, strings.Join(roles, ", "), err)
	}
	if exp := PlanSHA256(*want); got != exp {
		return "", fmt.Errorf("%w: action plan %s has sha256 %s, but the worker's own compilation of %s with these arguments and its approver roles [%s] has sha256 %s: the plan was made or edited by hand, or its approver roles are not the worker's", ErrPlanNotCompiled, p.Name, got, act.Action, strings.Join(roles, ", "), exp)
	}
	return "action plan " + p.Name + " compiled by this worker from action " + act.Action + " with approver roles [" + strings.Join(roles, ", ") + "] (plan sha256 " + got + ")", nil
}

package vault

import (
	"context"

	"go.temporal.io/sdk/activity"
)

// PlanRotationInput lists the secrets a later vault.rotate_secrets step would rotate.
type PlanRotationInput struct {
	Secrets []SecretRef `json:"secrets"`
}

// PlanRotationResult sorts the secrets, before anyone is asked to approve their rotation,
// into those firebreak can rotate, those a person must rotate, and those that would fail.
// Every secret is in exactly one list, in input order.
type PlanRotationResult struct {
	// Rotatable are the secrets firebreak would rotate itself, each with its strategy; pass
	// them to vault.rotate_secrets.
	Rotatable []PlannedRotation `json:"rotatable"`
	// Manual are the secrets marked manual or not marked: nothing will change them; their
	// owners are asked.
	Manual []ManualRotation `json:"manual"`
	// Problems are the secrets whose rotation would fail, with why (unknown strategy, a
	// field the secret lacks, a database role Vault lacks, a service not configured).
	Problems []RotationFailure `json:"problems"`
}

// PlannedRotation is a secret and how it will be rotated.
type PlannedRotation struct {
	Mount    string `json:"mount"`
	Path     string `json:"path"`
	Version  int    `json:"version"`
	Strategy string `json:"strategy"`
}

// PlanRotation checks, for each secret, everything RotateSecrets would need, changing
// nothing: that its custom_metadata names a known strategy, that a generate strategy's fields
// exist, that a database strategy's static role or connection exists in Vault, that a service
// strategy's service is configured. Playbooks run it before the two-person gate, so that
// nobody is asked to approve a rotation that cannot happen, and the gate's approvers see what
// will be rotated and how. Transient Vault failures fail the attempt for Temporal to retry;
// on the last attempt they are reported in Problems.
func (a *Activities) PlanRotation(ctx context.Context, in PlanRotationInput) (PlanRotationResult, error) {
	for _, ref := range in.Secrets {
		if err := validSegment("secret mount", ref.Mount); err != nil {
			return PlanRotationResult{}, err
		}
		if err := validPath("secret path", ref.Path); err != nil {
			return PlanRotationResult{}, err
		}
	}
	res := PlanRotationResult{Rotatable: []PlannedRotation{}, Manual: []ManualRotation{}, Problems: []RotationFailure{}}
	last := lastAttempt(ctx)
	planned := map[string]bool{}
	for _, ref := range in.Secrets {
		// The same secret may come twice (what the next login could read, asked before the
		// first cut, joined with the inventory's list after it): it is planned once, at its
		// current version.
		if planned[ref.Mount+"/"+ref.Path] {
			continue
		}
		planned[ref.Mount+"/"+ref.Path] = true
		activity.RecordHeartbeat(ctx, ref.Mount+"/"+ref.Path)
		c, err := a.readCurrent(ctx, ref)
		if err == nil && !c.strategy.Automated() {
			res.Manual = append(res.Manual, manualRotation(ref, c))
			continue
		}
		if err == nil {
			err = a.check(ctx, c)
		}
		if err != nil {
			kind, permanent := failureKind(err)
			if !permanent && !last {
				return PlanRotationResult{}, err
			}
			res.Problems = append(res.Problems, RotationFailure{Mount: ref.Mount, Path: ref.Path, Strategy: c.strategy.String(), Kind: kind, Error: errMessage(err)})
			continue
		}
		res.Rotatable = append(res.Rotatable, PlannedRotation{Mount: ref.Mount, Path: ref.Path, Version: c.version, Strategy: c.strategy.String()})
	}
	return res, nil
}

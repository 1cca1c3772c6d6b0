package awsiam

import (
	"context"
)

// PlanRotateKeyInput names the key a later awsiam.rotate_key step would rotate.
type PlanRotateKeyInput struct {
	User string `json:"user"`
	// AccessKeyID is the key to replace; empty means the user's only Active key.
	AccessKeyID string `json:"access_key_id"`
}

// PlanRotateKeyResult says which key would be rotated and which inactive spare would be
// deleted first to make room.
type PlanRotateKeyResult struct {
	User        string `json:"user"`
	AccessKeyID string `json:"access_key_id"`
	Spare       string `json:"spare,omitempty"`
}

// PlanRotateKey checks, changing nothing, what would make RotateKey fail before it changed
// anything: an unknown user, no Active key, a key that is not the user's, and AWS's limit of
// two keys per user when both are Active (TwoActiveKeys) or the other one is Active while the
// one to rotate is not (KeyLimit). It fails with RotateKey's own non-retryable error, so a
// playbook or `action run` that runs it before the two-person gate never asks anyone to
// approve a rotation that cannot happen.
func (a *Activities) PlanRotateKey(ctx context.Context, in PlanRotateKeyInput) (PlanRotateKeyResult, error) {
	if err := requireUser(in.User); err != nil {
		return PlanRotateKeyResult{}, err
	}
	keys, err := a.listKeys(ctx, in.User)
	if err != nil {
		return PlanRotateKeyResult{}, err
	}
	old, spare, err := pickRotation(in.User, in.AccessKeyID, keys)
	if err != nil {
		return PlanRotateKeyResult{}, err
	}
	return PlanRotateKeyResult{User: in.User, AccessKeyID: old, Spare: spare}, nil
}

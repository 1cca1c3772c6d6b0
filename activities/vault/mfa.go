package vault

import (
	"context"

	"go.temporal.io/sdk/activity"
)

// DestroyTOTPInput names the entity whose TOTP secret for a login-MFA method is destroyed.
type DestroyTOTPInput struct {
	EntityID string `json:"entity_id"`
	MethodID string `json:"method_id"`
}

// DestroyTOTPResult says whose secret was destroyed.
type DestroyTOTPResult struct {
	EntityID  string `json:"entity_id"`
	MethodID  string `json:"method_id"`
	Destroyed bool   `json:"destroyed"`
}

// DestroyTOTP destroys an entity's TOTP MFA secret (identity/mfa/method/totp/admin-destroy),
// the lost-device case: the lost authenticator stops working and the developer enrols a new
// one. Vault answers success when the entity has no secret for the method, so a retry or a
// second run is harmless. An unknown entity or method is a non-retryable InvalidRequest.
func (a *Activities) DestroyTOTP(ctx context.Context, in DestroyTOTPInput) (DestroyTOTPResult, error) {
	if err := validSegment("entity_id", in.EntityID); err != nil {
		return DestroyTOTPResult{}, err
	}
	if err := validSegment("method_id", in.MethodID); err != nil {
		return DestroyTOTPResult{}, err
	}
	const path = "identity/mfa/method/totp/admin-destroy"
	if _, err := a.Client.WriteWithContext(ctx, path, map[string]any{"entity_id": in.EntityID, "method_id": in.MethodID}); err != nil {
		return DestroyTOTPResult{}, classify(err, "destroy the TOTP secret of entity "+in.EntityID, path)
	}
	activity.GetLogger(ctx).Info("vault TOTP secret destroyed", "entity_id", in.EntityID, "method_id", in.MethodID)
	return DestroyTOTPResult{EntityID: in.EntityID, MethodID: in.MethodID, Destroyed: true}, nil
}

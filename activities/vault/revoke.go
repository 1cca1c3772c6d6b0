package vault

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// RevokeTokensInput lists the token accessors to revoke.
type RevokeTokensInput struct {
	Accessors []string `json:"accessors"`
}

// RevokeTokensResult says what happened to each accessor. Both lists are sorted.
type RevokeTokensResult struct {
	// Revoked are the accessors whose token this call revoked.
	Revoked []string `json:"revoked"`
	// AlreadyRevoked are the accessors Vault no longer knows: revoked before (possibly by an
	// earlier attempt of this activity), expired, or never issued.
	AlreadyRevoked []string `json:"already_revoked"`
}

// RevokeTokens revokes each token by accessor (auth/token/revoke-accessor), which also revokes
// its child tokens and leases. It is idempotent: an accessor Vault no longer knows is done.
func (a *Activities) RevokeTokens(ctx context.Context, in RevokeTokensInput) (RevokeTokensResult, error) {
	res := RevokeTokensResult{Revoked: []string{}, AlreadyRevoked: []string{}}
	seen := map[string]bool{}
	const path = "auth/token/revoke-accessor"
	for _, acc := range in.Accessors {
		if seen[acc] {
			continue
		}
		seen[acc] = true
		if err := validSegment("accessor", acc); err != nil {
			return RevokeTokensResult{}, err
		}
		activity.RecordHeartbeat(ctx, acc)
		s, err := a.Client.WriteWithContext(ctx, path, map[string]any{"accessor": acc})
		if err != nil {
			// Older Vault versions answer an unknown accessor with 400 "invalid accessor".
			if code, msg, ok := vaultStatusError(err); ok && code == 400 && strings.Contains(msg, "invalid accessor") {
				res.AlreadyRevoked = append(res.AlreadyRevoked, acc)
				continue
			}
			return RevokeTokensResult{}, classify(err, "revoke token accessor "+acc, path)
		}
		// Vault and OpenBao answer an unknown accessor with 200 and a warning.
		if s != nil && hasWarning(s.Warnings, "No token found") {
			res.AlreadyRevoked = append(res.AlreadyRevoked, acc)
			continue
		}
		res.Revoked = append(res.Revoked, acc)
	}
	sort.Strings(res.Revoked)
	sort.Strings(res.AlreadyRevoked)
	activity.GetLogger(ctx).Info("vault tokens revoked", "revoked", res.Revoked, "already_revoked", res.AlreadyRevoked)
	return res, nil
}

func hasWarning(warnings []string, sub string) bool {
	for _, w := range warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// EntityInput names an identity entity by id.
type EntityInput struct {
	EntityID string `json:"entity_id"`
}

// EntityResult is the entity's state after the call.
type EntityResult struct {
	EntityID string `json:"entity_id"`
	Disabled bool   `json:"disabled"`
	// WasDisabled is the state before the call; an undo should restore it, not blindly enable.
	WasDisabled bool `json:"was_disabled"`
}

// DisableEntity disables the identity entity, which makes Vault refuse every token bound to
// it, including tokens from logins after the revocation. Idempotent.
func (a *Activities) DisableEntity(ctx context.Context, in EntityInput) (EntityResult, error) {
	return a.setEntityDisabled(ctx, in, true)
}

// EnableEntity re-enables the identity entity: the undo of DisableEntity. Idempotent.
func (a *Activities) EnableEntity(ctx context.Context, in EntityInput) (EntityResult, error) {
	return a.setEntityDisabled(ctx, in, false)
}

func (a *Activities) setEntityDisabled(ctx context.Context, in EntityInput, disabled bool) (EntityResult, error) {
	if err := validSegment("entity_id", in.EntityID); err != nil {
		return EntityResult{}, err
	}
	path := "identity/entity/id/" + in.EntityID
	was, err := a.entityDisabled(ctx, in.EntityID)
	if err != nil {
		return EntityResult{}, err
	}
	if was != disabled {
		if _, err := a.Client.WriteWithContext(ctx, path, map[string]any{"disabled": disabled}); err != nil {
			return EntityResult{}, classify(err, fmt.Sprintf("set disabled=%t on identity entity", disabled), path)
		}
	}
	return EntityResult{EntityID: in.EntityID, Disabled: disabled, WasDisabled: was}, nil
}

// entityDisabled reads whether the entity is disabled; an unknown id is non-retryable.
func (a *Activities) entityDisabled(ctx context.Context, id string) (bool, error) {
	path := "identity/entity/id/" + id
	s, err := a.Client.ReadWithContext(ctx, path)
	if err != nil {
		return false, classify(err, "read identity entity", path)
	}
	if s == nil || s.Data == nil {
		return false, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("vault: no identity entity with id %q (%s answered 404); expected an entity_id from the inventory step", id, path),
			ErrUnknownEntity, nil)
	}
	return s.Data["disabled"] == true, nil
}

// VerifyRevokedInput names what must no longer work.
type VerifyRevokedInput struct {
	Accessors []string `json:"accessors"`
	// EntityID, when set, must read disabled.
	EntityID string `json:"entity_id,omitempty"`
	// Subject, when set, is looked up afresh (through Identity, its directory entry, filled
	// in by the interpreter): every live token of its entity must be refused by Vault, the
	// entity must read disabled and a probe login must be refused. A subject with no entity
	// passes with a check saying so. This judges containment from Vault after the change,
	// not from the inventory the run acted on.
	Subject  string          `json:"subject,omitempty"`
	Identity *DirectoryEntry `json:"identity,omitempty"`
}

// VerifyResult is the outcome of a verification: Passed when every check passed.
type VerifyResult struct {
	Passed bool    `json:"passed"`
	Checks []Check `json:"checks"`
}

// Check is one verified condition.
type Check struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}

// VerifyRevoked checks that every accessor now fails lookup and that the entity reads
// disabled. A failed check is a result with Passed false, not an error; only a failure to ask
// Vault is an error.
func (a *Activities) VerifyRevoked(ctx context.Context, in VerifyRevokedInput) (VerifyResult, error) {
	res := VerifyResult{Passed: true, Checks: []Check{}}
	const path = "auth/token/lookup-accessor"
	for _, acc := range in.Accessors {
		if err := validSegment("accessor", acc); err != nil {
			return VerifyResult{}, err
		}
		c := Check{Name: "token " + acc + " revoked"}
		s, err := a.Client.WriteWithContext(ctx, path, map[string]any{"accessor": acc})
		switch code, msg, _ := vaultStatusError(err); {
		case err == nil && s != nil:
			c.Detail = fmt.Sprintf("token with accessor %s is still valid (lookup-accessor succeeded); expected it to be revoked", acc)
		case err == nil:
			c.Passed, c.Detail = true, "lookup-accessor found no token"
		case code == 400 && strings.Contains(msg, "invalid accessor"):
			c.Passed, c.Detail = true, "lookup-accessor answered invalid accessor"
		default:
			return VerifyResult{}, classify(err, "look up token accessor "+acc, path)
		}
		res.Checks = append(res.Checks, c)
	}
	if in.EntityID != "" {
		if err := validSegment("entity_id", in.EntityID); err != nil {
			return VerifyResult{}, err
		}
		c := Check{Name: "entity " + in.EntityID + " disabled"}
		epath := "identity/entity/id/" + in.EntityID
		s, err := a.Client.ReadWithContext(ctx, epath)
		switch {
		case err != nil:
			return VerifyResult{}, classify(err, "read identity entity", epath)
		case s == nil || s.Data == nil:
			c.Detail = fmt.Sprintf("entity %s not found; expected it to exist and be disabled", in.EntityID)
		case s.Data["disabled"] == true:
			c.Passed, c.Detail = true, "entity reads disabled"
		default:
			c.Detail = fmt.Sprintf("entity %s is enabled; expected disabled", in.EntityID)
		}
		res.Checks = append(res.Checks, c)
	}
	if in.Subject != "" {
		checks, err := a.verifySubject(ctx, in.Subject, vaultIdentityOf(in.Identity), in.EntityID == "")
		if err != nil {
			return VerifyResult{}, err
		}
		res.Checks = append(res.Checks, checks...)
	}
	for _, c := range res.Checks {
		res.Passed = res.Passed && c.Passed
	}
	return res, nil
}

// verifySubject looks the subject up afresh and checks with Vault that nothing of theirs
// works: every live token refused, the entity disabled (when checkEntity), a probe login
// refused.
func (a *Activities) verifySubject(ctx context.Context, subject string, id *VaultIdentity, checkEntity bool) ([]Check, error) {
	looked := lookFor(subject, id)
	ent, err := a.entityFor(ctx, subject, id)
	if err != nil {
		return nil, err
	}
	if ent == nil {
		return []Check{{Name: "not present in Vault", Passed: true, Detail: "no " + looked + ": nothing to contain"}}, nil
	}
	entityID := dataString(ent, "id")
	var checks []Check
	tokens, err := a.entityTokens(ctx, entityID)
	if err != nil {
		return nil, err
	}
	c := Check{Name: "every live token of entity " + entityID + " refused", Passed: true}
	var accepted []string
	for _, t := range tokens {
		_, ok, err := a.capabilityRead(ctx, t.Accessor, []string{"sys/capabilities-self"})
		if err != nil {
			return nil, err
		}
		if ok {
			accepted = append(accepted, t.Accessor)
		}
	}
	switch {
	case len(accepted) > 0:
		c.Passed, c.Detail = false, fmt.Sprintf("Vault still accepts token(s) %s (sys/capabilities-accessor answered); expected every token refused", strings.Join(accepted, ", "))
	case len(tokens) == 0:
		c.Detail = "no live token is bound to the entity (fresh listing)"
	default:
		c.Detail = fmt.Sprintf("Vault refuses all %d token(s) still listed (sys/capabilities-accessor: invalid token)", len(tokens))
	}
	checks = append(checks, c)
	if checkEntity {
		c := Check{Name: "entity " + entityID + " disabled", Passed: ent["disabled"] == true, Detail: "entity reads disabled"}
		if !c.Passed {
			c.Detail = fmt.Sprintf("entity %s is enabled; expected disabled", entityID)
		}
		checks = append(checks, c)
	}
	auth, err := a.authMounts(ctx)
	if err != nil {
		return nil, err
	}
	if tm, ok := auth["token/"]; ok {
		pr := a.probe(ctx, entityID, entityAliases(ent), tm, nil, []string{"sys/capabilities-self"}, false)
		switch {
		case pr.refused != "":
			checks = append(checks, Check{Name: "a new login of entity " + entityID + " refused", Passed: true, Detail: "Vault refused a probe token bound to the entity: " + pr.refused})
		case pr.failed == nil:
			checks = append(checks, Check{Name: "a new login of entity " + entityID + " refused", Detail: "Vault issued a probe token bound to the entity; expected it to refuse"})
		case retryable(pr.failed):
			return nil, pr.failed
		default:
			checks = append(checks, Check{Name: "a new login of entity " + entityID + " refused", Detail: "could not be checked: " + errMessage(pr.failed) + " (see deploy/vault-policy.hcl for the probe role)"})
		}
	}
	return checks, nil
}

package vault

import (
	"context"
)

// ReadableSecrets answers, before the first cut, which KV v2 secrets the subject's next login
// may read: it resolves the identity entity (while listing the mounts, the secrets and the auth
// methods at the same time) and asks Vault with a short-lived probe token bound to the entity
// for each way of logging in (see probe), so the entity's and its groups' policies and
// templated paths are evaluated by Vault for the person. It does not look up the live tokens
// (that scan grows with Vault's size and is Inventory's), so it costs a few round trips
// whatever Vault holds.
//
// It must run before the entity is disabled: after, Vault refuses to answer for the entity's
// tokens (sys/capabilities-accessor: "invalid token") and to mint a probe bound to it. The
// result has Inventory's shape with no tokens; absent and unavailable are results, as there.
func (a *Activities) ReadableSecrets(ctx context.Context, in InventoryInput) (InventoryResult, error) {
	if err := validSegment("subject", in.Subject); err != nil {
		return InventoryResult{}, err
	}
	id := vaultIdentityOf(in.Identity)
	var res InventoryResult
	final, err := a.patiently(ctx, func() error {
		pass, err := a.newInventoryPass(in.SecretMount, in.SecretPrefix)
		if err != nil {
			return err
		}
		pass.cleanupLater = true // the first cut waits for this activity, not for the cleanup
		listed := make(chan error, 1)
		go func() { listed <- pass.list(ctx) }()
		var ent map[string]any
		res, ent, err = pass.entity(ctx, in.Subject, id)
		lerr := <-listed
		if err != nil || !res.Present {
			return err
		}
		if lerr != nil {
			return lerr
		}
		res, err = pass.complete(ctx, res, ent, nil)
		return err
	})
	switch {
	case err != nil && !final:
		return InventoryResult{}, err
	case err != nil:
		return unavailable(in.Subject, lookFor(in.Subject, id), err)
	}
	return res, nil
}

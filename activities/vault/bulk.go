package vault

import (
	"context"
	"maps"
	"slices"
)

// InventoryManyInput names the developers whose Vault footprints to inventory in one pass.
type InventoryManyInput struct {
	// Subjects are identity entity names, e.g. ["alice", "bob"]; each at most once.
	Subjects []string `json:"subjects"`
	// SecretMount and SecretPrefix are as in InventoryInput.
	SecretMount  string `json:"secret_mount,omitempty"`
	SecretPrefix string `json:"secret_prefix,omitempty"`
	// Identities are the subjects' directory entries (filled in by the interpreter); a
	// subject without one is its entity's name.
	Identities []DirectoryEntry `json:"identities,omitempty"`
}

// InventoryManyResult is each subject's inventory, in the order of the input.
type InventoryManyResult struct {
	// Items are the subjects' inventories, each exactly what Inventory returns for it.
	Items []InventoryResult `json:"items"`
	// Accessors are the accessors of every subject's live tokens, in the order of Items.
	Accessors []string `json:"accessors"`
	// ReadableSecrets are the shared secrets any of the subjects could read, each once,
	// sorted by mount and path.
	ReadableSecrets []SecretRef `json:"readable_secrets"`
}

// InventoryMany inventories many subjects at once. Vault has no API that lists an entity's
// tokens, so Inventory looks up every accessor in Vault for each subject; for n subjects that
// is n passes over every token. InventoryMany makes one pass, and reads each ACL policy, the
// secret listing and each secret's metadata once: one lookup per live token plus one entity
// read per subject. It only reads.
func (a *Activities) InventoryMany(ctx context.Context, in InventoryManyInput) (InventoryManyResult, error) {
	if len(in.Subjects) == 0 {
		return InventoryManyResult{}, invalidInput("vault: subjects is empty; expected at least one identity entity name")
	}
	seen := map[string]bool{}
	for _, s := range in.Subjects {
		if err := validSegment("subject", s); err != nil {
			return InventoryManyResult{}, err
		}
		if seen[s] {
			return InventoryManyResult{}, invalidInput("vault: subject %q is listed twice; expected each subject once", s)
		}
		seen[s] = true
	}
	ids := map[string]*VaultIdentity{}
	for i := range in.Identities {
		ids[in.Identities[i].Subject] = in.Identities[i].Vault
	}
	var res InventoryManyResult
	final, err := a.patiently(ctx, func() error {
		pass, err := a.newInventoryPass(in.SecretMount, in.SecretPrefix)
		if err != nil {
			return err
		}
		items := make([]InventoryResult, len(in.Subjects))
		ents := make([]map[string]any, len(in.Subjects))
		want := map[string]bool{}
		for i, s := range in.Subjects {
			if items[i], ents[i], err = pass.entity(ctx, s, ids[s]); err != nil {
				return err
			}
			if items[i].Present {
				want[items[i].EntityID] = true
			}
		}
		byEntity, err := a.tokensByEntity(ctx, want)
		if err != nil {
			return err
		}
		res = InventoryManyResult{Items: items, Accessors: []string{}, ReadableSecrets: []SecretRef{}}
		readable := map[string]SecretRef{}
		for i := range items {
			if !items[i].Present {
				continue
			}
			if items[i], err = pass.complete(ctx, items[i], ents[i], byEntity[items[i].EntityID]); err != nil {
				return err
			}
			res.Accessors = append(res.Accessors, items[i].Accessors...)
			for _, ref := range items[i].ReadableSecrets {
				readable[ref.Mount+"/"+ref.Path] = ref
			}
		}
		for _, k := range slices.Sorted(maps.Keys(readable)) {
			res.ReadableSecrets = append(res.ReadableSecrets, readable[k])
		}
		return nil
	})
	if err != nil && !final {
		return InventoryManyResult{}, err // transient: Temporal retries, resuming from the heartbeat
	}
	if err != nil {
		res = InventoryManyResult{Items: make([]InventoryResult, len(in.Subjects)), Accessors: []string{}, ReadableSecrets: []SecretRef{}}
		for i, s := range in.Subjects {
			item, uerr := unavailable(s, lookFor(s, ids[s]), err)
			if uerr != nil {
				return InventoryManyResult{}, uerr
			}
			res.Items[i] = item
		}
	}
	return res, nil
}

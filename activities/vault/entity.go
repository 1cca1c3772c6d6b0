package vault

import (
	"context"
	"fmt"
	"sort"

	"go.temporal.io/sdk/temporal"
)

// FindEntityInput names the person whose identity entity to read.
type FindEntityInput struct {
	// Subject is the name of the person's Vault identity entity, e.g. "alice".
	Subject string `json:"subject"`
}

// FindEntityResult is the evidence the first cut needs from Vault: the identity entity as it
// is now, with its policies and aliases (the logins bound to it). Lists are sorted.
type FindEntityResult struct {
	EntityID   string        `json:"entity_id"`
	EntityName string        `json:"entity_name"`
	Disabled   bool          `json:"disabled"`
	Policies   []string      `json:"policies"`
	Aliases    []EntityAlias `json:"aliases"`
}

// EntityAlias is one login bound to an entity: a name on an auth mount.
type EntityAlias struct {
	Name          string `json:"name"`
	MountAccessor string `json:"mount_accessor"`
	MountPath     string `json:"mount_path"`
	MountType     string `json:"mount_type"`
}

// FindEntity reads the subject's identity entity: one request to Vault, however many tokens
// Vault holds. Disabling that entity makes every token bound to it fail at once, so this is
// all containment needs from Vault before its first cut; Inventory (every token, the secrets
// they could read) follows. It only reads.
func (a *Activities) FindEntity(ctx context.Context, in FindEntityInput) (FindEntityResult, error) {
	if err := validSegment("subject", in.Subject); err != nil {
		return FindEntityResult{}, err
	}
	path := "identity/entity/name/" + in.Subject
	s, err := a.Client.ReadWithContext(ctx, path)
	if err != nil {
		return FindEntityResult{}, classify(err, "read identity entity", path)
	}
	if s == nil || s.Data == nil {
		return FindEntityResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("vault: no identity entity named %q (%s answered 404); expected the subject to be a Vault entity name", in.Subject, path),
			ErrUnknownSubject, nil)
	}
	res := FindEntityResult{
		EntityID: dataString(s.Data, "id"), EntityName: dataString(s.Data, "name"), Disabled: s.Data["disabled"] == true,
		Policies: dataStrings(s.Data, "policies"), Aliases: []EntityAlias{},
	}
	sort.Strings(res.Policies)
	aliases, _ := s.Data["aliases"].([]any)
	for _, raw := range aliases {
		m, _ := raw.(map[string]any)
		res.Aliases = append(res.Aliases, EntityAlias{
			Name: dataString(m, "name"), MountAccessor: dataString(m, "mount_accessor"),
			MountPath: dataString(m, "mount_path"), MountType: dataString(m, "mount_type"),
		})
	}
	sort.Slice(res.Aliases, func(i, j int) bool {
		return res.Aliases[i].MountAccessor+"/"+res.Aliases[i].Name < res.Aliases[j].MountAccessor+"/"+res.Aliases[j].Name
	})
	return res, nil
}

package vault

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"go.temporal.io/sdk/temporal"
)

// ReadEntityInput names the person whose identity entity to read.
type ReadEntityInput struct {
	// Subject is the person as playbooks name them; without a directory entry, the name of
	// their identity entity.
	Subject string `json:"subject"`
	// Identity is the subject's directory entry, filled in by the interpreter.
	Identity *DirectoryEntry `json:"identity,omitempty"`
}

// ReadEntityResult is the evidence the first cut needs from Vault: the identity entity as it
// is now, with its policies and aliases (the logins bound to it). Lists are sorted.
type ReadEntityResult struct {
	Subject string `json:"subject"`
	// Present, Status, Detail and LookedFor are as in InventoryResult.
	Present    bool          `json:"present"`
	Status     string        `json:"status"`
	Detail     string        `json:"detail"`
	LookedFor  string        `json:"looked_for"`
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

// ReadEntity finds the subject's identity entity as Inventory does (the directory's alias,
// entity or entity id, else the subject's name): one or two requests to Vault, however many
// tokens it holds. Disabling that entity makes every token bound to it fail at once, so this
// is all containment needs from Vault before its first cut; Inventory (every token, what they
// could read) follows. Absent and unavailable are results, as in Inventory. It only reads.
func (a *Activities) ReadEntity(ctx context.Context, in ReadEntityInput) (ReadEntityResult, error) {
	if err := validSegment("subject", in.Subject); err != nil {
		return ReadEntityResult{}, err
	}
	id := vaultIdentityOf(in.Identity)
	looked := lookFor(in.Subject, id)
	res := ReadEntityResult{Subject: in.Subject, LookedFor: looked, Status: StatusAbsent, Policies: []string{}, Aliases: []EntityAlias{}}
	var ent map[string]any
	final, err := a.patiently(ctx, func() error {
		var err error
		ent, err = a.entityFor(ctx, in.Subject, id)
		return err
	})
	var appErr *temporal.ApplicationError
	switch {
	case err != nil && errors.As(err, &appErr) && (appErr.Type() == ErrInvalidInput || appErr.Type() == ErrDirectory):
		return ReadEntityResult{}, err
	case err != nil && !final:
		return ReadEntityResult{}, err // transient: Temporal retries
	case err != nil:
		res.Status, res.Detail = StatusUnavailable, "Vault could not be asked: "+errorMessage(err)
		return res, nil
	case ent == nil:
		res.Detail = "not present in Vault: no " + looked
		return res, nil
	}
	res.Present, res.Status = true, StatusFound
	res.EntityID, res.EntityName, res.Disabled = dataString(ent, "id"), dataString(ent, "name"), ent["disabled"] == true
	res.Detail = fmt.Sprintf("identity entity %s (%s), found as %s", res.EntityName, res.EntityID, looked)
	res.Policies = append(res.Policies, dataStrings(ent, "policies")...)
	sort.Strings(res.Policies)
	aliases, _ := ent["aliases"].([]any)
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

func errorMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

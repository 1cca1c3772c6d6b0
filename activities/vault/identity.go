package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"

	"go.temporal.io/sdk/temporal"
)

// DirectoryEntry is one person of firebreak.yaml's directory as a run carries it: the subject
// playbooks name and where that person is found in each system. The interpreter hands the
// entry of an action's subject to the activity (an internal argument); without one, the
// subject is the identity entity's name.
type DirectoryEntry struct {
	Subject string          `json:"subject"`
	Vault   *VaultIdentity  `json:"vault,omitempty"`
	AWS     json.RawMessage `json:"aws,omitempty"` // awsiam's part; not read here
}

// VaultIdentity says how to find a person's identity entity: by an alias (the login name on
// an auth mount, looked up with identity/lookup/entity), by the entity's name, or by its id.
// Exactly one is set.
type VaultIdentity struct {
	Alias    *VaultAlias `json:"alias,omitempty"`
	Entity   string      `json:"entity,omitempty"`
	EntityID string      `json:"entity_id,omitempty"`
}

// VaultAlias is an entity alias: Name on the auth method mounted at Mount (e.g. oidc).
type VaultAlias struct {
	Mount string `json:"mount"`
	Name  string `json:"name"`
}

// Presence statuses of a subject in a system, as inventories report them.
const (
	// StatusFound: the subject was found.
	StatusFound = "found"
	// StatusAbsent: the subject has no identity in this system (per the directory, or none
	// was found where the directory or the default rule says to look).
	StatusAbsent = "absent"
	// StatusUnavailable: the system could not be asked (unreachable, failing, or refusing
	// firebreak's own credentials) within the inventory's patience.
	StatusUnavailable = "unavailable"
)

// ErrDirectory: the directory names something that does not exist in Vault (an auth mount,
// an entity id): a configuration mistake, reported before any change.
const ErrDirectory = "DirectoryMismatch"

// lookFor describes, for messages, where subject is looked for.
func lookFor(subject string, id *VaultIdentity) string {
	switch {
	case id == nil || (id.Alias == nil && id.Entity == "" && id.EntityID == ""):
		return fmt.Sprintf("identity entity named %q (no directory entry: subject = entity name)", subject)
	case id.Alias != nil:
		return fmt.Sprintf("entity alias %q on auth mount %s/ (directory)", id.Alias.Name, strings.Trim(id.Alias.Mount, "/"))
	case id.EntityID != "":
		return fmt.Sprintf("identity entity with id %q (directory)", id.EntityID)
	default:
		return fmt.Sprintf("identity entity named %q (directory)", id.Entity)
	}
}

// entityFor resolves the subject's identity entity: the directory's alias (identity/lookup/
// entity with the mount's accessor), entity id or entity name, else the subject as entity
// name. A nil result with a nil error means no entity was found where it was looked for.
// A directory naming an auth mount or an entity id that does not exist is a non-retryable
// ErrDirectory error.
func (a *Activities) entityFor(ctx context.Context, subject string, id *VaultIdentity) (map[string]any, error) {
	switch {
	case id != nil && id.Alias != nil:
		if id.Alias.Name == "" || id.Alias.Mount == "" {
			return nil, invalidInput("vault: directory entry of %q: alias needs both mount and name, found mount %q name %q", subject, id.Alias.Mount, id.Alias.Name)
		}
		mounts, err := a.authMounts(ctx)
		if err != nil {
			return nil, err
		}
		mount := strings.Trim(id.Alias.Mount, "/") + "/"
		m, ok := mounts[mount]
		if !ok {
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("vault: the directory says %q logs in as alias %q on auth mount %s, but Vault has no auth method mounted there (mounted: %s)", subject, id.Alias.Name, mount, strings.Join(slices.Sorted(maps.Keys(mounts)), ", ")),
				ErrDirectory, nil)
		}
		const path = "identity/lookup/entity"
		s, err := a.Client.WriteWithContext(ctx, path, map[string]any{"alias_name": id.Alias.Name, "alias_mount_accessor": m.Accessor})
		if err != nil {
			return nil, classify(err, "look up the entity of alias "+id.Alias.Name, path)
		}
		if s == nil || s.Data == nil {
			return nil, nil
		}
		return s.Data, nil
	case id != nil && id.EntityID != "":
		if err := validSegment("entity_id", id.EntityID); err != nil {
			return nil, err
		}
		path := "identity/entity/id/" + id.EntityID
		s, err := a.Client.ReadWithContext(ctx, path)
		if err != nil {
			return nil, classify(err, "read identity entity", path)
		}
		if s == nil || s.Data == nil {
			return nil, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("vault: the directory says %q is identity entity %s, but Vault has no entity with that id (%s answered 404)", subject, id.EntityID, path),
				ErrDirectory, nil)
		}
		return s.Data, nil
	default:
		name := subject
		if id != nil && id.Entity != "" {
			name = id.Entity
		}
		if err := validSegment("entity name", name); err != nil {
			return nil, err
		}
		path := "identity/entity/name/" + name
		s, err := a.Client.ReadWithContext(ctx, path)
		if code, _, ok := vaultStatusError(err); ok && code == http.StatusNotFound {
			s, err = nil, nil
		}
		if err != nil {
			return nil, classify(err, "read identity entity", path)
		}
		if s == nil || s.Data == nil {
			return nil, nil
		}
		return s.Data, nil
	}
}

// authMount is one mounted auth method.
type authMount struct {
	Path     string // with trailing slash, e.g. "userpass/"
	Type     string
	Accessor string
}

// authMounts lists the mounted auth methods by path (sys/auth).
func (a *Activities) authMounts(ctx context.Context) (map[string]authMount, error) {
	const path = "sys/auth"
	s, err := a.Client.ReadWithContext(ctx, path)
	if err != nil {
		return nil, classify(err, "list auth methods", path)
	}
	out := map[string]authMount{}
	if s == nil {
		return out, nil
	}
	for k, v := range s.Data {
		m, ok := v.(map[string]any)
		if !ok || !strings.HasSuffix(k, "/") {
			continue
		}
		out[k] = authMount{Path: k, Type: dataString(m, "type"), Accessor: dataString(m, "accessor")}
	}
	return out, nil
}

// entityAlias is one alias of an entity, as identity/entity answers.
type entityAlias struct {
	ID, Name, MountAccessor, MountPath, MountType string
}

func entityAliases(ent map[string]any) []entityAlias {
	var out []entityAlias
	list, _ := ent["aliases"].([]any)
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			continue
		}
		out = append(out, entityAlias{
			ID: dataString(m, "id"), Name: dataString(m, "name"), MountAccessor: dataString(m, "mount_accessor"),
			MountPath: dataString(m, "mount_path"), MountType: dataString(m, "mount_type"),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MountAccessor+out[i].Name < out[j].MountAccessor+out[j].Name })
	return out
}

// FindEntity resolves a person the way an inventory does (the directory's alias, entity id
// or entity name; else the subject as entity name) and returns their entity's id, "" when
// none is found. A directory naming an auth mount or entity id that does not exist is an
// ErrDirectory error. firebreak doctor checks the directory with it.
func (a *Activities) FindEntity(ctx context.Context, subject string, id *VaultIdentity) (string, error) {
	ent, err := a.entityFor(ctx, subject, id)
	if err != nil || ent == nil {
		return "", err
	}
	return dataString(ent, "id"), nil
}

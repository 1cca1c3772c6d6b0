package vault

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"go.temporal.io/sdk/temporal"
)

// InventoryInput names the developer whose Vault footprint to inventory.
type InventoryInput struct {
	// Subject is the name of the developer's Vault identity entity, e.g. "alice".
	Subject string `json:"subject"`
	// SecretMount is the KV v2 mount holding shared secrets; "" means "secret".
	SecretMount string `json:"secret_mount,omitempty"`
	// SecretPrefix limits the secrets considered to those under this path; "" means
	// "shared/" and "/" means the whole mount.
	SecretPrefix string `json:"secret_prefix,omitempty"`
}

// InventoryResult is what the subject holds in Vault. Every list is sorted.
type InventoryResult struct {
	EntityID       string `json:"entity_id"`
	EntityName     string `json:"entity_name"`
	EntityDisabled bool   `json:"entity_disabled"`
	// Policies are every policy that applies to the subject: the entity's and its tokens'.
	Policies []string    `json:"policies"`
	Tokens   []TokenInfo `json:"tokens"`
	// Accessors are the accessors of Tokens.
	Accessors []string `json:"accessors"`
	// ReadableSecrets are the KV v2 secrets under the prefix that some token of the subject
	// (or a fresh login of the entity) may read, at their current version.
	ReadableSecrets []SecretRef `json:"readable_secrets"`
	// ReadablePaths are ReadableSecrets as "mount/path" strings.
	ReadablePaths []string `json:"readable_paths"`
}

// TokenInfo describes one live token of the subject. It never carries the token itself.
type TokenInfo struct {
	Accessor     string   `json:"accessor"`
	DisplayName  string   `json:"display_name"`
	Path         string   `json:"path"`          // the auth path that created it, e.g. auth/oidc/oidc/callback
	CreationTime string   `json:"creation_time"` // RFC 3339
	ExpireTime   string   `json:"expire_time"`   // RFC 3339; "" when it never expires
	EntityID     string   `json:"entity_id"`
	Policies     []string `json:"policies"`
}

// SecretRef names one version of a KV v2 secret.
type SecretRef struct {
	Mount   string `json:"mount"`
	Path    string `json:"path"`
	Version int    `json:"version"`
}

// Inventory finds the subject's identity entity, its live tokens (by listing every accessor
// and looking each up) and the KV v2 secrets under SecretMount/SecretPrefix that its policies
// grant read on, evaluating the policies' path rules the way Vault does. It only reads.
func (a *Activities) Inventory(ctx context.Context, in InventoryInput) (InventoryResult, error) {
	if err := validSegment("subject", in.Subject); err != nil {
		return InventoryResult{}, err
	}
	pass, err := a.newInventoryPass(in.SecretMount, in.SecretPrefix)
	if err != nil {
		return InventoryResult{}, err
	}
	res, entityPolicies, err := pass.entity(ctx, in.Subject)
	if err != nil {
		return InventoryResult{}, err
	}
	tokens, err := a.entityTokens(ctx, res.EntityID)
	if err != nil {
		return InventoryResult{}, err
	}
	return pass.complete(ctx, res, entityPolicies, tokens)
}

// newInventoryPass starts an inventory of the secrets under prefix in the KV v2 mount ("" means
// "secret" and "shared/"; prefix "/" means the whole mount).
func (a *Activities) newInventoryPass(secretMount, secretPrefix string) (*inventoryPass, error) {
	mount := strings.Trim(secretMount, "/")
	if mount == "" {
		mount = "secret"
	}
	if err := validSegment("secret_mount", mount); err != nil {
		return nil, err
	}
	prefix := strings.TrimLeft(secretPrefix, "/")
	if secretPrefix == "" {
		prefix = "shared/"
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &inventoryPass{a: a, mount: mount, prefix: prefix, rules: map[string][]aclRule{}, meta: map[string]int{}}, nil
}

// inventoryPass reads what one or more subjects hold, fetching each ACL policy, the secret
// listing and each secret's metadata at most once however many subjects it serves.
type inventoryPass struct {
	a             *Activities
	mount, prefix string
	rules         map[string][]aclRule // policy name → parsed rules
	paths         []string             // secrets under prefix; nil until listed
	listed        bool
	meta          map[string]int // secret path → current version; -1 when deleted since listed
}

// entity reads the subject's identity entity: the start of its inventory, and its policies.
func (p *inventoryPass) entity(ctx context.Context, subject string) (InventoryResult, []string, error) {
	entityPath := "identity/entity/name/" + subject
	ent, err := p.a.Client.ReadWithContext(ctx, entityPath)
	if err != nil {
		return InventoryResult{}, nil, classify(err, "read identity entity", entityPath)
	}
	if ent == nil || ent.Data == nil {
		return InventoryResult{}, nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("vault: no identity entity named %q (%s answered 404); expected the subject to be a Vault entity name", subject, entityPath),
			ErrUnknownSubject, nil)
	}
	res := InventoryResult{
		EntityID:       dataString(ent.Data, "id"),
		EntityName:     dataString(ent.Data, "name"),
		EntityDisabled: ent.Data["disabled"] == true,
		Tokens:         []TokenInfo{},
		Accessors:      []string{},
	}
	return res, dataStrings(ent.Data, "policies"), nil
}

// complete fills in res from the entity's policies and its live tokens: the policies that
// apply, the accessors, and the shared secrets some token (or a fresh login) may read.
func (p *inventoryPass) complete(ctx context.Context, res InventoryResult, entityPolicies []string, tokens []TokenInfo) (InventoryResult, error) {
	a := p.a
	res.Tokens = tokens
	policySet := map[string]bool{}
	for _, name := range entityPolicies {
		policySet[name] = true
	}
	for _, t := range res.Tokens {
		res.Accessors = append(res.Accessors, t.Accessor)
		for _, name := range t.Policies {
			policySet[name] = true
		}
	}
	res.Policies = slices.Sorted(maps.Keys(policySet))

	rules := p.rules
	var err error
	for _, name := range res.Policies {
		if _, done := rules[name]; name == "root" || done {
			continue
		}
		if rules[name], err = a.policyRules(ctx, name); err != nil {
			return InventoryResult{}, err
		}
	}
	// One ACL per token (its policies plus the entity's, as Vault combines them), and one for a
	// fresh login of the entity, which carries the default policy.
	var acls []*acl
	build := func(tokenPolicies []string) *acl {
		names := append(append([]string(nil), entityPolicies...), tokenPolicies...)
		var rs [][]aclRule
		root := false
		for _, n := range names {
			if n == "root" {
				root = true
			}
			rs = append(rs, rules[n])
		}
		return newACL(root, rs...)
	}
	for _, t := range res.Tokens {
		acls = append(acls, build(t.Policies))
	}
	if _, ok := rules["default"]; !ok {
		if rules["default"], err = a.policyRules(ctx, "default"); err != nil {
			return InventoryResult{}, err
		}
	}
	acls = append(acls, build([]string{"default"}))

	if !p.listed {
		if p.paths, err = a.listSecrets(ctx, p.mount, p.prefix); err != nil {
			return InventoryResult{}, err
		}
		p.listed = true
	}
	mount := p.mount
	res.ReadableSecrets, res.ReadablePaths = []SecretRef{}, []string{}
	for _, path := range p.paths {
		readable := false
		for _, l := range acls {
			if l.allows(mount+"/data/"+path, capRead) {
				readable = true
				break
			}
		}
		if !readable {
			continue
		}
		version, seen := p.meta[path]
		if !seen {
			metaPath := mount + "/metadata/" + path
			md, err := a.Client.ReadWithContext(ctx, metaPath)
			if err != nil {
				return InventoryResult{}, classify(err, "read secret metadata", metaPath)
			}
			version = -1
			if md != nil && md.Data != nil {
				version = dataInt(md.Data, "current_version")
			}
			p.meta[path] = version
		}
		if version < 0 {
			continue // deleted since it was listed
		}
		res.ReadableSecrets = append(res.ReadableSecrets, SecretRef{Mount: mount, Path: path, Version: version})
		res.ReadablePaths = append(res.ReadablePaths, mount+"/"+path)
	}
	return res, nil
}

// entityTokens lists every token accessor and keeps the tokens bound to entityID.
func (a *Activities) entityTokens(ctx context.Context, entityID string) ([]TokenInfo, error) {
	byEntity, err := a.tokensByEntity(ctx, map[string]bool{entityID: true})
	if err != nil {
		return nil, err
	}
	return byEntity[entityID], nil
}

// policyRules fetches and parses one ACL policy; a policy that does not exist grants nothing,
// as in Vault.
func (a *Activities) policyRules(ctx context.Context, name string) ([]aclRule, error) {
	path := "sys/policies/acl/" + name
	s, err := a.Client.ReadWithContext(ctx, path)
	if err != nil {
		return nil, classify(err, "read ACL policy", path)
	}
	if s == nil || s.Data == nil {
		return nil, nil
	}
	rules, err := parsePolicy(name, dataString(s.Data, "policy"))
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("vault: "+err.Error(), ErrInvalidRequest, nil)
	}
	return rules, nil
}

// listSecrets lists every secret below prefix in a KV v2 mount, recursively, sorted.
func (a *Activities) listSecrets(ctx context.Context, mount, prefix string) ([]string, error) {
	var out []string
	var walk func(dir string) error
	walk = func(dir string) error {
		path := mount + "/metadata/" + dir
		s, err := a.Client.ListWithContext(ctx, path)
		if err != nil {
			return classify(err, "list secrets", path)
		}
		if s == nil {
			return nil
		}
		for _, k := range dataStrings(s.Data, "keys") {
			if strings.HasSuffix(k, "/") {
				if err := walk(dir + k); err != nil {
					return err
				}
				continue
			}
			out = append(out, dir+k)
		}
		return nil
	}
	if err := walk(prefix); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

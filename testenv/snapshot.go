package testenv

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	fbvault "github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/seed"
)

// ReplayPolicyName is the ACL policy OrgFromSnapshot attaches to subject's entity when the
// organisation's own policies would not grant read on exactly the shared secrets the snapshot
// recorded as readable.
func ReplayPolicyName(subject string) string { return "firebreak-replay-" + subject }

// OrgFromSnapshot returns a copy of base in which subject's developer (replaced, or added when
// base has none) holds what an evidence snapshot recorded before containment. data is the
// snapshot's data: the vault.inventory and awsiam.inventory results are found under the keys
// "vault" and "iam", or else as any top-level value of their shape.
//
// From the Vault inventory: the entity's policies, every token (accessor, display name, path,
// policies and lifetime; the token ids are not evidence, so fresh ones containing Canary are
// minted), and the readable shared secrets — added with fresh canary values when base lacks
// them, and, when base's policies would not grant read on exactly those, an ACL policy
// (ReplayPolicyName) on the entity that grants read on them and denies the others in the same
// top-level folders (the inventory's prefix is not in the snapshot). From the
// IAM inventory: the access keys with status, creation and last-use (fresh canary secrets),
// the login profile, MFA serials and groups. A section the snapshot lacks leaves base's data.
//
// Not reproduced: secret versions (added secrets are at version 1), the dates of the login
// profile and MFA devices, inline IAM policies, and a disabled entity.
func OrgFromSnapshot(base *Org, subject string, data map[string]any) (*Org, error) {
	if base == nil {
		return nil, fmt.Errorf("snapshot of %q: expected a base organisation, found nil", subject)
	}
	if subject == "" {
		return nil, fmt.Errorf("expected the snapshot's subject, found an empty name")
	}
	vinv, iinv, err := snapshotInventories(data)
	if err != nil {
		return nil, fmt.Errorf("snapshot of %q: %w", subject, err)
	}
	// A person found through the directory has an entity named otherwise (entity_1a2b…, as
	// Vault names them): the inventory's subject says whose it is.
	if vinv != nil && vinv.Subject != "" && vinv.Subject != subject {
		return nil, fmt.Errorf("snapshot of %q: expected the vault inventory of %q, found that of %q", subject, subject, vinv.Subject)
	}
	if vinv != nil && vinv.Subject == "" && vinv.EntityName != "" && vinv.EntityName != subject {
		return nil, fmt.Errorf("snapshot of %q: expected the vault inventory of %q, found entity %q", subject, subject, vinv.EntityName)
	}
	if iinv != nil && iinv.Subject != "" && iinv.Subject != subject {
		return nil, fmt.Errorf("snapshot of %q: expected the iam inventory of %q, found that of %q", subject, subject, iinv.Subject)
	}
	if iinv != nil && iinv.Subject == "" && iinv.UserName != "" && iinv.UserName != subject {
		return nil, fmt.Errorf("snapshot of %q: expected the iam inventory of %q, found user %q", subject, subject, iinv.UserName)
	}
	org := cloneOrg(base)
	idx := slices.IndexFunc(org.Developers, func(d Developer) bool { return d.Name == subject })
	if idx < 0 {
		org.Developers = append(org.Developers, Developer{
			Name: subject, Email: subject + "@example.test",
			SlackID: "U0" + strings.ToUpper(subject), PagerDutyID: "P" + strings.ToUpper(subject),
		})
		idx = len(org.Developers) - 1
	}
	dev := &org.Developers[idx]
	if vinv != nil {
		if err := applyVault(org, dev, vinv); err != nil {
			return nil, fmt.Errorf("snapshot of %q: %w", subject, err)
		}
	}
	if iinv != nil {
		if err := applyIAM(dev, iinv); err != nil {
			return nil, fmt.Errorf("snapshot of %q: %w", subject, err)
		}
	}
	return org, nil
}

// snapshotInventories finds the Vault and IAM inventories in a snapshot's data.
func snapshotInventories(data map[string]any) (*fbvault.InventoryResult, *awsiam.InventoryResult, error) {
	var vinv *fbvault.InventoryResult
	var iinv *awsiam.InventoryResult
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// The playbook names its sections; "vault" and "iam" come first, then by shape.
	sort.SliceStable(keys, func(i, j int) bool { return rank(keys[i]) < rank(keys[j]) })
	for _, k := range keys {
		m, ok := data[k].(map[string]any)
		if !ok {
			continue
		}
		_, hasEntity := m["entity_id"]
		_, hasTokens := m["tokens"]
		_, hasKeys := m["access_keys"]
		_, hasUser := m["user_name"]
		switch {
		case vinv == nil && (k == "vault" || hasEntity || hasTokens):
			var v fbvault.InventoryResult
			if err := remarshal(m, &v); err != nil {
				return nil, nil, fmt.Errorf("%s: expected a vault.inventory result: %w", k, err)
			}
			vinv = &v
		case iinv == nil && (k == "iam" || hasKeys || hasUser):
			var v awsiam.InventoryResult
			if err := remarshal(m, &v); err != nil {
				return nil, nil, fmt.Errorf("%s: expected an awsiam.inventory result: %w", k, err)
			}
			iinv = &v
		}
	}
	return vinv, iinv, nil
}

func rank(k string) int {
	if k == "vault" || k == "iam" {
		return 0
	}
	return 1
}

func remarshal(in any, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// applyVault gives dev the entity policies, tokens and readable secrets of inv.
func applyVault(org *Org, dev *Developer, inv *fbvault.InventoryResult) error {
	// The inventory records the union of the entity's and its tokens' policies; the entity
	// gets them all but default, which every token carries anyway.
	dev.VaultPolicies = nil
	for _, p := range inv.Policies {
		if p != "default" {
			dev.VaultPolicies = append(dev.VaultPolicies, p)
		}
	}
	dev.VaultTokens = nil
	for _, t := range inv.Tokens {
		if t.Accessor == "" {
			return fmt.Errorf("vault: expected every token to have an accessor, found one without (%s)", t.DisplayName)
		}
		var ttl time.Duration
		if t.ExpireTime != "" {
			exp, err := time.Parse(time.RFC3339, t.ExpireTime)
			if err != nil {
				return fmt.Errorf("vault: token %s: expected an RFC 3339 expire_time, found %q", t.Accessor, t.ExpireTime)
			}
			created := exp
			if t.CreationTime != "" {
				if created, err = time.Parse(time.RFC3339, t.CreationTime); err != nil {
					return fmt.Errorf("vault: token %s: expected an RFC 3339 creation_time, found %q", t.Accessor, t.CreationTime)
				}
			}
			// The sandbox issues the token now: it keeps the lifetime it was issued with.
			if ttl = exp.Sub(created); ttl <= 0 {
				ttl = time.Hour
			}
		}
		id := freshCanary("hvs.replay-" + dev.Name + "-")
		dev.VaultTokens = append(dev.VaultTokens, VaultToken{
			ID: id, Accessor: t.Accessor, DisplayName: t.DisplayName, Path: t.Path,
			Policies: append([]string(nil), t.Policies...), TTL: ttl,
		})
	}
	return applyReadable(org, dev, inv)
}

// applyReadable makes exactly the recorded shared secrets readable by dev.
func applyReadable(org *Org, dev *Developer, inv *fbvault.InventoryResult) error {
	recorded := map[string]bool{}
	// The inventory looked below a prefix the snapshot does not record: take the top-level
	// folders of the recorded secrets (the inventory's default, shared/, when none was
	// readable), and leave secrets elsewhere, which it did not consider, as base has them.
	scope := map[string]bool{}
	for _, s := range inv.ReadableSecrets {
		if s.Mount == "" || s.Path == "" {
			return fmt.Errorf("vault: expected readable secrets with a mount and a path, found %q/%q", s.Mount, s.Path)
		}
		recorded[s.Mount+"/"+s.Path] = true
		scope[s.Mount] = true
		if !slices.ContainsFunc(org.Secrets, func(x Secret) bool { return x.Mount == s.Mount && x.Path == s.Path }) {
			v := freshCanary("replay-")
			org.Secrets = append(org.Secrets, Secret{Mount: s.Mount, Path: s.Path, Data: map[string]string{"value": v}})
		}
	}
	for _, m := range inv.Mounts { // every mount the inventory considered
		scope[m] = true
	}
	if len(scope) == 0 {
		scope["secret"] = true
	}
	// What dev's policies (entity, tokens, and default) grant read on today.
	held := map[string]bool{"default": true}
	for _, p := range dev.VaultPolicies {
		held[p] = true
	}
	for _, t := range dev.VaultTokens {
		for _, p := range t.Policies {
			held[p] = true
		}
	}
	var parsed []*fbvault.Policy
	for _, p := range org.VaultPolicies {
		if !held[p.Name] {
			continue
		}
		pol, err := fbvault.ParsePolicy(p.Name, p.HCL)
		if err != nil {
			return fmt.Errorf("vault: base policy %s: %w", p.Name, err)
		}
		parsed = append(parsed, pol)
	}
	var grant, deny []string
	for _, s := range org.Secrets {
		if !scope[s.Mount] {
			continue
		}
		dataPath := s.Mount + "/data/" + s.Path
		allowed := slices.ContainsFunc(parsed, func(p *fbvault.Policy) bool { return p.Allows(dataPath, "read") })
		switch want := recorded[s.Mount+"/"+s.Path]; {
		case want && !allowed:
			grant = append(grant, dataPath)
		case !want && allowed:
			deny = append(deny, dataPath)
		}
	}
	if len(grant) == 0 && len(deny) == 0 {
		return nil
	}
	sort.Strings(grant)
	sort.Strings(deny)
	var b strings.Builder
	for _, p := range grant {
		fmt.Fprintf(&b, "path %q { capabilities = [\"read\"] }\n", p)
	}
	for _, p := range deny {
		fmt.Fprintf(&b, "path %q { capabilities = [\"deny\"] }\n", p)
	}
	name := ReplayPolicyName(dev.Name)
	org.VaultPolicies = slices.DeleteFunc(org.VaultPolicies, func(p VaultPolicy) bool { return p.Name == name })
	org.VaultPolicies = append(org.VaultPolicies, VaultPolicy{Name: name, HCL: b.String()})
	if !slices.Contains(dev.VaultPolicies, name) {
		dev.VaultPolicies = append(dev.VaultPolicies, name)
	}
	return nil
}

// applyIAM gives dev the access keys, login profile, MFA devices and groups of inv.
func applyIAM(dev *Developer, inv *awsiam.InventoryResult) error {
	dev.IAMKeys = nil
	for _, k := range inv.AccessKeys {
		if k.AccessKeyID == "" {
			return fmt.Errorf("iam: expected every access key to have an id, found one without")
		}
		status := k.Status
		if status != "Active" && status != "Inactive" {
			return fmt.Errorf("iam: key %s: expected status Active or Inactive, found %q", k.AccessKeyID, k.Status)
		}
		key := IAMKey{ID: k.AccessKeyID, Status: status, LastService: k.LastUsedService, LastRegion: k.LastUsedRegion}
		var err error
		if key.Created, err = parseOptionalTime(k.CreateDate); err != nil {
			return fmt.Errorf("iam: key %s: create_date: %w", k.AccessKeyID, err)
		}
		if key.Created.IsZero() {
			key.Created = seed.Epoch
		}
		if key.LastUsed, err = parseOptionalTime(k.LastUsedDate); err != nil {
			return fmt.Errorf("iam: key %s: last_used_date: %w", k.AccessKeyID, err)
		}
		key.Secret = freshCanary(dev.Name + "/")
		dev.IAMKeys = append(dev.IAMKeys, key)
	}
	dev.LoginProfile = inv.HasLoginProfile
	dev.MFASerials = nil
	for _, m := range inv.MFADevices {
		dev.MFASerials = append(dev.MFASerials, m.SerialNumber)
	}
	dev.Groups = append([]string(nil), inv.Groups...)
	return nil
}

func parseOptionalTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("expected an RFC 3339 time, found %q", s)
	}
	return t.UTC(), nil
}

// freshCanary is prefix, Canary and random hex: a credential value the leak checks recognise.
func freshCanary(prefix string) string { return fakebase.NewCanaryValue(prefix, "-", 12) }

// cloneOrg copies o deeply enough that changing the copy never changes o.
func cloneOrg(o *Org) *Org {
	c := &Org{
		VaultPolicies: slices.Clone(o.VaultPolicies),
		Channels:      slices.Clone(o.Channels),
		Services:      slices.Clone(o.Services),
		Incidents:     slices.Clone(o.Incidents),
	}
	for _, d := range o.Developers {
		d.VaultPolicies = slices.Clone(d.VaultPolicies)
		d.VaultTokens = slices.Clone(d.VaultTokens)
		for i := range d.VaultTokens {
			d.VaultTokens[i].Policies = slices.Clone(d.VaultTokens[i].Policies)
		}
		d.IAMKeys = slices.Clone(d.IAMKeys)
		d.MFASerials = slices.Clone(d.MFASerials)
		d.Groups = slices.Clone(d.Groups)
		c.Developers = append(c.Developers, d)
	}
	for _, s := range o.Secrets {
		data := make(map[string]string, len(s.Data))
		for k, v := range s.Data {
			data[k] = v
		}
		s.Data = data
		s.Metadata = maps.Clone(s.Metadata) // nil stays nil, as Vault answers a secret without custom_metadata
		c.Secrets = append(c.Secrets, s)
	}
	for _, d := range o.Databases {
		d.StaticRoles = slices.Clone(d.StaticRoles)
		c.Databases = append(c.Databases, d)
	}
	return c
}

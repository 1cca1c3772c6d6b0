package vault

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
)

// DefaultProbeRole is the token role firebreak mints its probe tokens with when
// Activities.ProbeRole is empty (see deploy/vault-policy.hcl for how to create it).
const DefaultProbeRole = "firebreak-probe"

// probeAliasPrefix names the alias on the token auth mount that binds a probe token to the
// person's entity, when the entity has no alias there already.
const probeAliasPrefix = "firebreak-probe-"

// capabilitiesChunk is how many paths one sys/capabilities-accessor call asks about.
const capabilitiesChunk = 200

// Sources of a readable-secrets answer.
const (
	// SourceVault: Vault answered (sys/capabilities-accessor for live tokens and for a probe
	// token that stands for the person's next login).
	SourceVault = "vault-capabilities"
	// SourceFirebreakACL: the next login could not be probed; firebreak evaluated the
	// entity's, its groups' and the auth methods' policies itself (templated paths excluded,
	// and listed under Undetermined).
	SourceFirebreakACL = "firebreak-acl"
)

// kvMounts lists the KV version 2 secrets engines (sys/mounts), sorted, without slashes.
func (a *Activities) kvMounts(ctx context.Context) ([]string, error) {
	const p = "sys/mounts"
	s, err := a.Client.ReadWithContext(ctx, p)
	if err != nil {
		return nil, classify(err, "list secrets engines", p)
	}
	var out []string
	if s == nil {
		return out, nil
	}
	for k, v := range s.Data {
		m, ok := v.(map[string]any)
		if !ok || dataString(m, "type") != "kv" {
			continue
		}
		opts := dataMap(m, "options")
		if dataString(opts, "version") != "2" {
			continue
		}
		out = append(out, strings.Trim(k, "/"))
	}
	sort.Strings(out)
	return out, nil
}

// capabilityRead asks Vault which of paths the token behind accessor may read. ok is false
// when Vault no longer accepts the token (revoked, expired, or its entity disabled): it can
// read nothing.
func (a *Activities) capabilityRead(ctx context.Context, accessor string, paths []string) (readable map[string]bool, ok bool, err error) {
	readable = map[string]bool{}
	const p = "sys/capabilities-accessor"
	for start := 0; start < len(paths); start += capabilitiesChunk {
		chunk := paths[start:min(start+capabilitiesChunk, len(paths))]
		activity.RecordHeartbeat(ctx, accessor)
		s, err := a.Client.WriteWithContext(ctx, p, map[string]any{"accessor": accessor, "paths": chunk})
		if err != nil {
			if code, msg, isResp := vaultStatusError(err); isResp && code == 400 && (strings.Contains(msg, "invalid token") || strings.Contains(msg, "invalid accessor")) {
				return map[string]bool{}, false, nil
			}
			return nil, false, classify(err, "ask the capabilities of token "+accessor, p)
		}
		if s == nil {
			continue
		}
		for _, path := range chunk {
			for _, c := range dataStrings(s.Data, path) {
				if c == "read" || c == "root" {
					readable[path] = true
				}
			}
		}
	}
	return readable, true, nil
}

// loginGrant is what one way of logging in grants: the auth method's own policies for the
// person's alias there.
type loginGrant struct {
	Via      string   // e.g. "userpass/ user alice"
	Policies []string // the method's policies for that login, without default
}

// methodPolicies reads what the auth method behind one of the entity's aliases grants at
// login. What Vault does not expose (an OIDC role chosen at login, LDAP group memberships
// held by the directory server) is said in notes.
func (a *Activities) methodPolicies(ctx context.Context, al entityAlias, m authMount) (grants []loginGrant, notes []string) {
	read := func(p string) (map[string]any, error) {
		s, err := a.Client.ReadWithContext(ctx, p)
		if err != nil {
			return nil, err
		}
		if s == nil {
			return nil, nil
		}
		return s.Data, nil
	}
	list := func(p string) []string {
		s, err := a.Client.ListWithContext(ctx, p)
		if err != nil || s == nil {
			return nil
		}
		return dataStrings(s.Data, "keys")
	}
	pols := func(d map[string]any, keys ...string) []string {
		var out []string
		for _, k := range keys {
			out = append(out, dataStrings(d, k)...)
		}
		return vaultPolicySet(out)
	}
	base := "auth/" + m.Path
	switch m.Type {
	case "userpass":
		d, err := read(base + "users/" + al.Name)
		switch {
		case err != nil:
			notes = append(notes, fmt.Sprintf("%s: could not read %susers/%s: %v", m.Path, base, al.Name, err))
		case d == nil:
			notes = append(notes, fmt.Sprintf("%s: no userpass user %q: this alias cannot log in", m.Path, al.Name))
		default:
			grants = append(grants, loginGrant{Via: m.Path + " user " + al.Name, Policies: pols(d, "token_policies", "policies")})
		}
	case "approle":
		found := false
		for _, role := range list(base + "role") {
			d, err := read(base + "role/" + role + "/role-id")
			if err != nil || d == nil || dataString(d, "role_id") != al.Name {
				continue
			}
			rd, err := read(base + "role/" + role)
			if err != nil || rd == nil {
				notes = append(notes, fmt.Sprintf("%s: could not read AppRole role %s: %v", m.Path, role, err))
				continue
			}
			found = true
			grants = append(grants, loginGrant{Via: m.Path + " role " + role, Policies: pols(rd, "token_policies", "policies")})
		}
		if !found {
			notes = append(notes, fmt.Sprintf("%s: no AppRole role has role_id %q (or firebreak may not list them)", m.Path, al.Name))
		}
	case "token":
		if strings.HasPrefix(al.Name, probeAliasPrefix) {
			return nil, nil
		}
		for _, role := range list(base + "roles") {
			if role == a.probeRole() {
				continue
			}
			d, err := read(base + "roles/" + role)
			if err != nil || d == nil {
				continue
			}
			if !globAny(dataStrings(d, "allowed_entity_aliases"), al.Name) {
				continue
			}
			p := pols(d, "allowed_policies", "token_policies")
			grants = append(grants, loginGrant{Via: "token role " + role, Policies: p})
			if len(dataStrings(d, "allowed_policies_glob")) > 0 {
				notes = append(notes, fmt.Sprintf("token role %s also allows policies matching %v: not evaluated", role, dataStrings(d, "allowed_policies_glob")))
			}
		}
	case "ldap":
		d, err := read(base + "users/" + al.Name)
		if err == nil && d != nil {
			grants = append(grants, loginGrant{Via: m.Path + " user " + al.Name, Policies: pols(d, "policies")})
		}
		notes = append(notes, fmt.Sprintf("%s (ldap): policies of LDAP groups depend on memberships held by the LDAP server, which Vault does not expose: not included", m.Path))
	case "oidc", "jwt":
		cfg, _ := read(base + "config")
		def := dataString(cfg, "default_role")
		var others []string
		for _, role := range list(base + "role") {
			d, err := read(base + "role/" + role)
			if err != nil || d == nil {
				continue
			}
			p := pols(d, "token_policies", "policies")
			if role == def {
				grants = append(grants, loginGrant{Via: m.Path + " default role " + role, Policies: p})
				continue
			}
			others = append(others, fmt.Sprintf("%s %v", role, p))
		}
		if len(others) > 0 {
			notes = append(notes, fmt.Sprintf("%s (%s): a login may name another role, allowed or not by the identity provider's claims, which Vault does not expose: roles %s not included", m.Path, m.Type, strings.Join(others, "; ")))
		}
	default:
		notes = append(notes, fmt.Sprintf("%s (%s): what a login through this auth method grants cannot be read from Vault: not included", m.Path, m.Type))
	}
	return grants, notes
}

func (a *Activities) probeRole() string {
	if a.ProbeRole != "" {
		return a.ProbeRole
	}
	return DefaultProbeRole
}

// probeResult is what a probe token for one way of logging in may read.
type probeResult struct {
	readable map[string]bool
	refused  string // Vault refused to mint it because the entity is disabled
	failed   error  // the probe could not be made (no role, not permitted): fall back
}

// probe mints a short-lived, non-renewable, single-use token bound to the entity through an
// alias on the token auth mount and carrying policies (what a login through one auth method
// would carry), asks Vault which of paths it may read, and revokes it. Vault itself adds
// the entity's and its groups' policies and evaluates templated paths. The token's id is
// never kept: only its accessor is used.
//
// With later (before a first cut), the alias is removed after probe returns and the probe
// token is left to expire instead of being revoked: its id was never kept, it cannot outlive
// 60 seconds, and Vault refuses it as soon as the entity is disabled, while a revocation on
// OpenBao's dev server holding 20,000 tokens took 1.5–5 s and slowed every other request
// meanwhile (BenchmarkFirstCutOpenBao's call timings).
func (a *Activities) probe(ctx context.Context, entityID string, aliases []entityAlias, tokenMount authMount, policies []string, paths []string, later bool) probeResult {
	aliasName, cleanup := "", ""
	for _, al := range aliases {
		if al.MountAccessor == tokenMount.Accessor {
			aliasName = al.Name
			if strings.HasPrefix(al.Name, probeAliasPrefix) {
				cleanup = al.ID // left by an attempt that stopped half way
			}
		}
	}
	if aliasName == "" {
		aliasName = probeAliasPrefix + entityID
		const p = "identity/entity-alias"
		s, err := a.Client.WriteWithContext(ctx, p, map[string]any{"name": aliasName, "canonical_id": entityID, "mount_accessor": tokenMount.Accessor})
		if err != nil {
			return probeResult{failed: classify(err, "bind a probe alias on the token auth mount to entity "+entityID, p)}
		}
		if s != nil {
			cleanup = dataString(s.Data, "id")
		}
	}
	// The probe token and its alias are removed together, in one round trip, when done.
	var done sync.WaitGroup
	cctx := ctx
	if later {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer func() { go func() { done.Wait(); cancel() }() }()
	} else {
		defer done.Wait()
	}
	if cleanup != "" {
		defer func() {
			done.Add(1)
			go func() {
				defer done.Done()
				p := "identity/entity-alias/id/" + cleanup
				if _, err := a.Client.DeleteWithContext(cctx, p); err != nil {
					activity.GetLogger(ctx).Warn("vault: could not delete the probe alias", "alias_id", cleanup, "error", err)
				}
			}()
		}()
	}
	createPath := "auth/token/create/" + a.probeRole()
	s, err := a.Client.WriteWithContext(ctx, createPath, map[string]any{
		"entity_alias": aliasName, "policies": append([]string{"default"}, policies...),
		"ttl": "60s", "explicit_max_ttl": "60s", "num_uses": 1, "renewable": false,
		"display_name": "firebreak-probe", "meta": map[string]any{"purpose": "firebreak: what the next login could read"},
	})
	if err != nil {
		// OpenBao answers 403 "entity from given entity alias is disabled".
		if code, msg, ok := vaultStatusError(err); ok && (code == 400 || code == 403) && strings.Contains(msg, "is disabled") {
			return probeResult{readable: map[string]bool{}, refused: msg}
		}
		return probeResult{failed: classify(err, "mint a probe token", createPath)}
	}
	if s == nil || s.Auth == nil || s.Auth.Accessor == "" {
		return probeResult{failed: fmt.Errorf("vault: %s answered no token; expected a probe token", createPath)}
	}
	acc := s.Auth.Accessor
	s.Auth.ClientToken = "" // never kept
	defer func() {
		if later {
			return // expires within 60 s; refused once the entity is disabled
		}
		done.Add(1)
		go func() {
			defer done.Done()
			if _, err := a.Client.WriteWithContext(cctx, "auth/token/revoke-accessor", map[string]any{"accessor": acc}); err != nil {
				activity.GetLogger(ctx).Warn("vault: could not revoke the probe token (it expires within 60s)", "accessor", acc, "error", err)
			}
		}()
	}()
	readable, ok, err := a.capabilityRead(ctx, acc, paths)
	if err != nil {
		return probeResult{failed: err}
	}
	if !ok {
		return probeResult{readable: map[string]bool{}, refused: "Vault refused the probe token (entity disabled)"}
	}
	return probeResult{readable: readable}
}

// entityGroupPolicies reads the policies of the entity's identity groups, direct and
// inherited (for firebreak's own evaluation, when no probe can be made).
func (a *Activities) entityGroupPolicies(ctx context.Context, ent map[string]any) ([]string, error) {
	var out []string
	ids := append(dataStrings(ent, "direct_group_ids"), dataStrings(ent, "inherited_group_ids")...)
	for _, id := range ids {
		p := "identity/group/id/" + id
		s, err := a.Client.ReadWithContext(ctx, p)
		if err != nil {
			return nil, classify(err, "read identity group", p)
		}
		if s != nil {
			out = append(out, dataStrings(s.Data, "policies")...)
		}
	}
	return vaultPolicySet(out), nil
}

// vaultPolicySet lowercases, de-duplicates and sorts policy names, dropping "default" and
// empty names (a login's default policy is added separately).
func vaultPolicySet(in []string) []string {
	seen := map[string]bool{}
	for _, p := range in {
		p = strings.ToLower(strings.TrimSpace(p))
		if p != "" && p != "default" {
			seen[p] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

func globAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok || p == name {
			return true
		}
		if strings.HasSuffix(p, "*") && strings.HasPrefix(name, strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
}

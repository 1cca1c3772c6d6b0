package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
	"go.temporal.io/sdk/activity"
)

// SourceResultantACL: the next login's grants were captured before the first cut as Vault's
// resultant ACL of a probe token bound to the entity (sys/internal/ui/resultant-acl, identity
// templates rendered by Vault) and evaluated after it by Vault, on the leaves of the KV tree,
// with a temporary policy holding exactly those rules.
const SourceResultantACL = "vault-resultant-acl"

// capturedPolicyPrefix names the temporary ACL policies that hold a captured ACL while Vault
// evaluates it (deploy/vault-policy.hcl grants firebreak their creation and deletion).
const capturedPolicyPrefix = "firebreak-next-login-"

// NextLoginResult is what Vault said, before the first cut, the subject's next login is
// granted: one captured ACL per way of logging in. vault.inventory takes it (next_login) and
// asks Vault, after the cut, which secrets those rules let the person read.
type NextLoginResult struct {
	Subject        string `json:"subject"`
	Present        bool   `json:"present"`
	Status         string `json:"status"`
	Detail         string `json:"detail"`
	LookedFor      string `json:"looked_for"`
	EntityID       string `json:"entity_id"`
	EntityName     string `json:"entity_name"`
	EntityDisabled bool   `json:"entity_disabled"`
	// Logins are the ways the person can log in next and the auth method's policies for each.
	Logins []Login `json:"logins"`
	// ACLs are what Vault said each distinct login grants, in the order of Logins.
	ACLs []NextLoginACL `json:"acls"`
	// Undetermined lists what could not be determined, each with why.
	Undetermined []string `json:"undetermined"`
}

// NextLoginACL is one login's grants as Vault rendered them for the person.
type NextLoginACL struct {
	Via      string   `json:"via"`
	Policies []string `json:"policies"` // the login's own policies, without default
	// Captured is true when Vault's resultant ACL was read; false when no probe could be
	// made or what it was granted could not be read for a reason retrying will not mend
	// (Reason says why): the inventory then evaluates the policies itself and says so.
	Captured bool   `json:"captured"`
	Reason   string `json:"reason,omitempty"`
	// Refused: Vault refused to mint the probe (the entity was already disabled): this login
	// grants nothing.
	Refused bool `json:"refused,omitempty"`
	Root    bool `json:"root,omitempty"`
	// Rules are the resultant ACL's exact paths and glob paths (with their trailing "*"),
	// templates rendered by Vault, and the rules with a "+" segment of the token's policies,
	// which sys/internal/ui/resultant-acl leaves out, as their policies write them.
	Rules []ACLRule `json:"rules"`
	// Readable, when set, lists the data paths ("mount/data/path") Vault said the probe
	// token could read, asked before the cut because a "+" rule is also templated: Vault
	// renders it only for the entity, and the resultant ACL leaves it out.
	Readable []string `json:"readable,omitempty"`
	// Mounts are the KV v2 mounts Readable covers.
	Mounts []string `json:"mounts,omitempty"`
}

// ACLRule is one path rule of a captured ACL.
type ACLRule struct {
	Path         string   `json:"path"`
	Capabilities []string `json:"capabilities"`
}

// CaptureNextLogin asks Vault, before the first cut, what the subject's next login is
// granted, in a few round trips however many tokens and secrets Vault holds: the entity (with
// the auth methods), what each of its logins grants and a probe alias (at once), a probe token
// per login bound to the entity (at once), and each probe's resultant ACL with the policies
// holding "+" rules (at once). It lists no secret: vault.inventory, after the cut, asks Vault
// which secrets the captured rules grant (see evaluateCaptured).
//
// It must run before the entity is disabled: after, Vault refuses to mint a probe bound to it.
// Absent and unavailable are results, as for Inventory.
func (a *Activities) CaptureNextLogin(ctx context.Context, in InventoryInput) (NextLoginResult, error) {
	if err := validSegment("subject", in.Subject); err != nil {
		return NextLoginResult{}, err
	}
	id := vaultIdentityOf(in.Identity)
	var res NextLoginResult
	final, err := a.patiently(ctx, func() error {
		var err error
		res, err = a.captureNextLogin(ctx, in, id)
		return err
	})
	switch {
	case err != nil && !final:
		return NextLoginResult{}, err
	case err != nil:
		u, uerr := unavailable(in.Subject, lookFor(in.Subject, id), err)
		if uerr != nil {
			return NextLoginResult{}, uerr
		}
		return NextLoginResult{Subject: u.Subject, Status: u.Status, LookedFor: u.LookedFor, Detail: u.Detail,
			Logins: []Login{}, ACLs: []NextLoginACL{}, Undetermined: u.Undetermined}, nil
	}
	return res, nil
}

func (a *Activities) captureNextLogin(ctx context.Context, in InventoryInput, id *VaultIdentity) (NextLoginResult, error) {
	pass, err := a.newInventoryPass(in.SecretMount, in.SecretPrefix)
	if err != nil {
		return NextLoginResult{}, err
	}
	// The auth methods are read while the entity is resolved.
	var auth map[string]authMount
	authErr := make(chan error, 1)
	go func() {
		var err error
		auth, err = a.authMounts(ctx)
		authErr <- err
	}()
	inv, ent, err := pass.entity(ctx, in.Subject, id)
	aerr := <-authErr
	if err != nil {
		return NextLoginResult{}, err
	}
	res := NextLoginResult{
		Subject: inv.Subject, Present: inv.Present, Status: inv.Status, Detail: inv.Detail, LookedFor: inv.LookedFor,
		EntityID: inv.EntityID, EntityName: inv.EntityName, EntityDisabled: inv.EntityDisabled,
		Logins: []Login{}, ACLs: []NextLoginACL{}, Undetermined: []string{},
	}
	if !inv.Present {
		return res, nil
	}
	if aerr != nil {
		return NextLoginResult{}, aerr
	}
	byAccessor := map[string]authMount{}
	for _, m := range auth {
		byAccessor[m.Accessor] = m
	}
	aliases := entityAliases(ent)
	tokenMount, haveTokenMount := auth["token/"]

	// What each login grants, and the alias binding probes to the entity, at once.
	grants := make([][]loginGrant, len(aliases))
	notes := make([][]string, len(aliases))
	var wg sync.WaitGroup
	for i, al := range aliases {
		m, ok := byAccessor[al.MountAccessor]
		if !ok {
			notes[i] = []string{fmt.Sprintf("alias %q: its auth mount (accessor %s) is not listed by sys/auth", al.Name, al.MountAccessor)}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			grants[i], notes[i] = a.methodPolicies(ctx, al, m)
		}()
	}
	var bind probeBinding
	if haveTokenMount && !res.EntityDisabled && len(aliases) > 0 {
		bind = a.bindProbeAlias(ctx, res.EntityID, aliases, tokenMount)
	}
	wg.Wait()
	defer bind.release(ctx, a)

	var all []loginGrant
	for i := range aliases {
		all = append(all, grants[i]...)
		res.Undetermined = append(res.Undetermined, notes[i]...)
	}
	if len(aliases) == 0 {
		res.Undetermined = append(res.Undetermined, "the entity has no alias, so no auth method logs in to it: only its live tokens were considered")
	}
	for _, g := range all {
		res.Logins = append(res.Logins, Login{Via: g.Via, Policies: append([]string{}, g.Policies...)})
	}
	res.Logins = sortLogins(res.Logins)
	if res.EntityDisabled {
		res.Undetermined = append(res.Undetermined, "next login: the entity is disabled, so Vault refuses it")
		sort.Strings(res.Undetermined)
		return res, nil
	}

	// One probe per distinct set of login policies, all at once.
	var distinct []loginGrant
	seen := map[string]bool{}
	for _, g := range all {
		key := strings.Join(g.Policies, ",")
		if !seen[key] {
			seen[key] = true
			distinct = append(distinct, g)
		}
	}
	// The KV tree is listed at most once, for the first login that needs it (a templated "+"
	// rule); the logins captured at once share it read-only: pass is not safe for
	// concurrent use.
	tree := sync.OnceValues(func() (kvTree, error) {
		if err := pass.list(ctx); err != nil {
			return kvTree{}, err
		}
		return kvTree{paths: slices.Clone(pass.paths), mounts: slices.Clone(pass.mounts)}, nil
	})
	acls := make([]NextLoginACL, len(distinct))
	errs := make([]error, len(distinct))
	for i, g := range distinct {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acls[i], errs[i] = a.captureLogin(ctx, tree, bind, haveTokenMount, g)
		}()
	}
	wg.Wait()
	for i, acl := range acls {
		if errs[i] != nil {
			return NextLoginResult{}, errs[i]
		}
		switch {
		case acl.Refused:
			res.Undetermined = append(res.Undetermined, "next login through "+acl.Via+": "+acl.Reason)
		case !acl.Captured:
			res.Undetermined = append(res.Undetermined, fmt.Sprintf("next login through %s: Vault could not be asked with a probe token (%s); the inventory evaluates the policies itself", acl.Via, acl.Reason))
		}
		res.ACLs = append(res.ACLs, acl)
	}
	sort.Strings(res.Undetermined)
	return res, nil
}

// kvTree is a read-only snapshot of the KV v2 secrets listed by an inventoryPass.
type kvTree struct {
	paths  []string // mount/data/path
	mounts []string
}

// probeBinding is the alias on the token auth mount that binds probe tokens to the entity.
type probeBinding struct {
	name    string // "" when none could be made (failed says why)
	cleanup string // alias id to delete when done
	failed  error
}

// bindProbeAlias finds or creates the alias on the token auth mount that binds probe tokens
// to the entity.
func (a *Activities) bindProbeAlias(ctx context.Context, entityID string, aliases []entityAlias, tokenMount authMount) probeBinding {
	var b probeBinding
	for _, al := range aliases {
		if al.MountAccessor == tokenMount.Accessor {
			b.name = al.Name
			if strings.HasPrefix(al.Name, probeAliasPrefix) {
				b.cleanup = al.ID // left by an attempt that stopped half way
			}
		}
	}
	if b.name != "" {
		return b
	}
	name := probeAliasPrefix + entityID
	const p = "identity/entity-alias"
	s, err := a.Client.WriteWithContext(ctx, p, map[string]any{"name": name, "canonical_id": entityID, "mount_accessor": tokenMount.Accessor})
	if err != nil {
		return probeBinding{failed: classify(err, "bind a probe alias on the token auth mount to entity "+entityID, p)}
	}
	b.name = name
	if s != nil {
		b.cleanup = dataString(s.Data, "id")
	}
	return b
}

// release deletes the probe alias after the activity returns (the first cut waits for the
// capture, not for its cleanup).
func (b probeBinding) release(ctx context.Context, a *Activities) {
	if b.cleanup == "" {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	go func() {
		defer cancel()
		p := "identity/entity-alias/id/" + b.cleanup
		if _, err := a.Client.DeleteWithContext(cctx, p); err != nil {
			activity.GetLogger(ctx).Warn("vault: could not delete the probe alias", "alias_id", b.cleanup, "error", err)
		}
	}()
}

// captureLogin mints a probe token bound to the entity with one login's policies and reads,
// with it, its resultant ACL, and the policies it carries that hold "+" rules. The token id
// is used for that one request and never kept; the token is left to expire (60 s): a
// revocation on OpenBao holding many tokens took seconds and slowed every other request.
func (a *Activities) captureLogin(ctx context.Context, tree func() (kvTree, error), bind probeBinding, haveTokenMount bool, g loginGrant) (NextLoginACL, error) {
	acl := NextLoginACL{Via: g.Via, Policies: append([]string{}, g.Policies...), Rules: []ACLRule{}}
	switch {
	case !haveTokenMount:
		acl.Reason = "no token auth mount listed by sys/auth"
		return acl, nil
	case bind.failed != nil:
		if retryable(bind.failed) {
			return acl, bind.failed
		}
		acl.Reason = errMessage(bind.failed)
		return acl, nil
	case a.TokenClient == nil:
		acl.Reason = "firebreak was not given a way to ask Vault as the probe token (Activities.TokenClient)"
		return acl, nil
	}
	createPath := "auth/token/create/" + a.probeRole()
	s, err := a.Client.WriteWithContext(ctx, createPath, map[string]any{
		"entity_alias": bind.name, "policies": append([]string{"default"}, g.Policies...),
		// Two uses: the resultant ACL takes one; a token whose last use is spent is revoked
		// by Vault at once, and that revocation is what slowed OpenBao.
		"ttl": "60s", "explicit_max_ttl": "60s", "num_uses": 2, "renewable": false,
		"display_name": "firebreak-probe", "meta": map[string]any{"purpose": "firebreak: what the next login could read"},
	})
	if err != nil {
		if code, msg, ok := vaultStatusError(err); ok && (code == 400 || code == 403) && strings.Contains(msg, "is disabled") {
			acl.Refused, acl.Reason = true, msg
			return acl, nil
		}
		err = classify(err, "mint a probe token", createPath)
		if retryable(err) {
			return acl, err
		}
		acl.Reason = errMessage(err)
		return acl, nil
	}
	if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
		return acl, fmt.Errorf("vault: %s answered no token; expected a probe token", createPath)
	}
	token, acc := s.Auth.ClientToken, s.Auth.Accessor
	s.Auth.ClientToken = ""
	var names []string // the token's policies, for their "+" rules
	for _, n := range append(vaultPolicySet(append(append(s.Auth.TokenPolicies, s.Auth.Policies...), s.Auth.IdentityPolicies...)), "default") {
		if n != "root" {
			names = append(names, n)
		}
	}

	// The resultant ACL and the texts of the token's policies, at once.
	var result *api.Secret
	var resErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		result, resErr = a.TokenClient(token).ReadWithContext(ctx, "sys/internal/ui/resultant-acl")
	}()
	texts := make([][]aclRule, len(names))
	terrs := make([]error, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			texts[i], terrs[i] = a.policyRules(ctx, n)
		}()
	}
	wg.Wait()
	token = ""
	// A failure that retrying will not mend leaves this login to the inventory's own
	// evaluation (Captured false, Reason says why); the other logins stay captured.
	notCaptured := func(err error) (NextLoginACL, error) {
		if retryable(err) {
			return acl, err
		}
		acl.Reason = errMessage(err)
		return acl, nil
	}
	if resErr != nil {
		return notCaptured(classify(resErr, "read the probe token's resultant ACL", "sys/internal/ui/resultant-acl"))
	}
	if result == nil || result.Data == nil {
		acl.Reason = "sys/internal/ui/resultant-acl answered nothing; expected exact_paths and glob_paths"
		return acl, nil
	}
	for i := range names {
		if terrs[i] != nil {
			return notCaptured(terrs[i])
		}
	}
	acl.Captured = true
	if result.Data["root"] == true {
		acl.Root = true
		return acl, nil
	}
	for _, kind := range []string{"exact_paths", "glob_paths"} {
		for p, v := range dataMap(result.Data, kind) {
			caps := dataStrings(asMap(v), "capabilities")
			if len(caps) == 0 {
				continue
			}
			if kind == "glob_paths" {
				p += "*"
			}
			acl.Rules = append(acl.Rules, ACLRule{Path: p, Capabilities: caps})
		}
	}
	templatedPlus := false
	for _, rs := range texts {
		for _, r := range rs {
			if !hasPlusSegment(r.pattern) {
				continue
			}
			if strings.Contains(r.pattern, "{{") {
				templatedPlus = true
				continue
			}
			acl.Rules = append(acl.Rules, ACLRule{Path: r.pattern, Capabilities: capNames(r.caps)})
		}
	}
	sort.Slice(acl.Rules, func(i, j int) bool { return acl.Rules[i].Path < acl.Rules[j].Path })
	if templatedPlus {
		// Vault renders a templated "+" rule only for the entity and the resultant ACL
		// leaves it out: ask Vault about the leaves now, before the cut, as before (slower,
		// and only for such policies).
		t, err := tree()
		if err != nil {
			acl.Captured = false
			return notCaptured(err)
		}
		readable, ok, err := a.capabilityRead(ctx, acc, t.paths)
		if err != nil {
			acl.Captured = false
			return notCaptured(err)
		}
		if !ok {
			// Vault no longer answers for the probe: it expired during the walk of the KV
			// tree, or was revoked, or the entity was disabled since it was minted. Which one
			// is not said by this answer, so the inventory evaluates the policies itself
			// rather than count this login as granting nothing.
			acl.Captured, acl.Reason = false, "Vault no longer answered for the probe token when its capabilities were asked (expired while the KV tree was listed, revoked, or the entity disabled since)"
			acl.Rules = []ACLRule{}
			return acl, nil
		}
		acl.Readable = slices.Sorted(func(yield func(string) bool) {
			for p := range readable {
				if !yield(p) {
					return
				}
			}
		})
		acl.Mounts = append([]string{}, t.mounts...)
	}
	return acl, nil
}

// evaluateCaptured asks Vault which of paths a captured ACL grants read on: it writes the
// rules as a temporary policy, mints a 60-second token with only that policy and no entity
// of the person's, asks sys/capabilities-accessor, and deletes the policy. Vault, not
// firebreak, matches the globs and "+" segments.
func (a *Activities) evaluateCaptured(ctx context.Context, acl NextLoginACL, paths []string) (map[string]bool, []string, error) {
	out := map[string]bool{}
	switch {
	case acl.Root:
		for _, p := range paths {
			out[p] = true
		}
		return out, nil, nil
	case acl.Readable != nil || acl.Mounts != nil:
		for _, p := range acl.Readable {
			out[p] = true
		}
		return out, nil, nil
	case len(acl.Rules) == 0 || len(paths) == 0:
		return out, nil, nil
	}
	text := evaluationPolicy(acl.Rules)
	suffix := make([]byte, 8)
	if _, err := rand.Read(suffix); err != nil {
		return nil, nil, err
	}
	name := capturedPolicyPrefix + hex.EncodeToString(suffix)
	pp := "sys/policies/acl/" + name
	if _, err := a.Client.WriteWithContext(ctx, pp, map[string]any{"policy": text}); err != nil {
		return nil, nil, classify(err, "write the captured ACL as a temporary policy", pp)
	}
	defer func() {
		if _, err := a.Client.DeleteWithContext(context.WithoutCancel(ctx), pp); err != nil {
			activity.GetLogger(ctx).Warn("vault: could not delete the temporary policy", "policy", name, "error", err)
		}
	}()
	createPath := "auth/token/create/" + a.probeRole()
	s, err := a.Client.WriteWithContext(ctx, createPath, map[string]any{
		"policies": []string{name}, "no_default_policy": true,
		"ttl": "60s", "explicit_max_ttl": "60s", "num_uses": 1, "renewable": false,
		"display_name": "firebreak-evaluate", "meta": map[string]any{"purpose": "firebreak: evaluate a captured ACL"},
	})
	if err != nil {
		return nil, nil, classify(err, "mint a token for the captured ACL", createPath)
	}
	if s == nil || s.Auth == nil || s.Auth.Accessor == "" {
		return nil, nil, fmt.Errorf("vault: %s answered no token; expected a token for the captured ACL", createPath)
	}
	s.Auth.ClientToken = "" // never kept
	var notes []string
	if extra := vaultPolicySet(s.Auth.IdentityPolicies); len(extra) > 0 {
		notes = append(notes, fmt.Sprintf("next login through %s: the token that evaluated its captured ACL also carried firebreak's own identity policies %v, so more may be listed than the person could read", acl.Via, extra))
	}
	readable, ok, err := a.capabilityRead(ctx, s.Auth.Accessor, paths)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, fmt.Errorf("vault: refused the token minted to evaluate the captured ACL of %s", acl.Via)
	}
	return readable, notes, nil
}

// evaluationPolicy writes rules as the temporary policy evaluateCaptured asks Vault about,
// with only what the decision needs: sys/capabilities-accessor is asked whether "read" is
// granted, so each rule keeps read and deny, and a rule with neither keeps its path (it
// still outranks broader rules, as in the person's ACL) with "list" alone. A policy left
// behind, if its deletion fails, grants no create, update, patch, delete or sudo.
func evaluationPolicy(rules []ACLRule) string {
	var b strings.Builder
	for _, r := range rules {
		var quoted []string
		for _, c := range r.Capabilities {
			if c == "read" || c == "deny" {
				quoted = append(quoted, fmt.Sprintf("%q", c))
			}
		}
		if len(quoted) == 0 {
			quoted = []string{`"list"`}
		}
		fmt.Fprintf(&b, "path %q {\n  capabilities = [%s]\n}\n", r.Path, strings.Join(quoted, ", "))
	}
	return b.String()
}

func hasPlusSegment(pattern string) bool {
	return slices.Contains(strings.Split(strings.TrimSuffix(pattern, "*"), "/"), "+")
}

func capNames(caps uint32) []string {
	var out []string
	for name, bit := range capabilityBits {
		if caps&bit != 0 {
			out = append(out, name)
		}
	}
	if caps&capDeny != 0 {
		return []string{"deny"}
	}
	sort.Strings(out)
	return out
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

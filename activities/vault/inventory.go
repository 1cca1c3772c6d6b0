package vault

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// InventoryInput names the developer whose Vault footprint to inventory.
type InventoryInput struct {
	// Subject is the person as playbooks name them, e.g. "alice". Without a directory entry
	// it is the name of their identity entity.
	Subject string `json:"subject"`
	// SecretMount narrows the secrets considered to one KV v2 mount; "" means every KV v2
	// mount (sys/mounts).
	SecretMount string `json:"secret_mount,omitempty"`
	// SecretPrefix narrows them to a path prefix in each mount; "" and "/" mean the whole mount.
	SecretPrefix string `json:"secret_prefix,omitempty"`
	// Identity is the subject's directory entry, filled in by the interpreter from
	// firebreak.yaml's directory; nil means the subject is the entity name.
	Identity *DirectoryEntry `json:"identity,omitempty"`
	// NextLogin is what vault.capture_next_login found before the first cut (Inventory
	// only): Vault is asked which secrets those captured grants allow instead of probing the
	// next login, which Vault refuses once the entity is disabled. nil: probe as usual.
	NextLogin *NextLoginResult `json:"next_login,omitempty"`
}

// InventoryResult is what the subject holds in Vault. Every list is sorted.
type InventoryResult struct {
	Subject string `json:"subject"`
	// Present is true when the subject's identity entity was found (Status found).
	Present bool `json:"present"`
	// Status is found, absent (no entity where it was looked for) or unavailable (Vault
	// could not be asked; Detail says why).
	Status string `json:"status"`
	// Detail says what was found or why not, e.g. "not present in Vault: no identity entity named \"dave\"".
	Detail string `json:"detail"`
	// LookedFor says where the subject was looked for (the directory's alias, entity or
	// entity id, or the subject as entity name).
	LookedFor      string `json:"looked_for"`
	EntityID       string `json:"entity_id"`
	EntityName     string `json:"entity_name"`
	EntityDisabled bool   `json:"entity_disabled"`
	// Policies are the entity's policies and its live tokens'.
	Policies []string    `json:"policies"`
	Tokens   []TokenInfo `json:"tokens"`
	// Accessors are the accessors of Tokens.
	Accessors []string `json:"accessors"`
	// Logins are the ways the person can log in next (one per alias Vault knows how to
	// evaluate) and the auth method's policies for each.
	Logins []Login `json:"logins"`
	// Mounts are the KV v2 mounts considered.
	Mounts []string `json:"mounts"`
	// ReadableSecrets are the KV v2 secrets (in Mounts, under the prefix) that a live token
	// of the subject, or their next login, may read, at their current version.
	ReadableSecrets []SecretRef `json:"readable_secrets"`
	// ReadablePaths are ReadableSecrets as "mount/path" strings.
	ReadablePaths []string `json:"readable_paths"`
	// ReadableSource says who decided ReadableSecrets: SourceVault, or SourceFirebreakACL
	// when the next login could not be probed.
	ReadableSource string `json:"readable_source"`
	// Undetermined lists what could not be determined, each with why.
	Undetermined []string `json:"undetermined"`
}

// Login is one way the person can log in, with the auth method's policies for it.
type Login struct {
	Via      string   `json:"via"`
	Policies []string `json:"policies"`
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
	Type         string   `json:"type,omitempty"` // service or batch
}

// SecretRef names one version of a KV v2 secret.
type SecretRef struct {
	Mount   string `json:"mount"`
	Path    string `json:"path"`
	Version int    `json:"version"`
}

// Inventory finds the subject's identity entity (through the directory's alias, entity or
// entity id, else by the subject's name), its live tokens, and the KV v2 secrets that Vault
// says one of those tokens or the person's next login may read (sys/capabilities-accessor;
// see probe). It only reads, apart from the short-lived probe token (and the alias binding it
// to the entity) that it creates and removes.
//
// A subject with no entity is a result with Status absent, and a Vault that cannot be asked
// within Patience one with Status unavailable, so that the run contains the other systems;
// a directory entry naming a mount or entity id that does not exist is a non-retryable
// ErrDirectory error, raised before any change.
func (a *Activities) Inventory(ctx context.Context, in InventoryInput) (InventoryResult, error) {
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
		var ent map[string]any
		res, ent, err = pass.entity(ctx, in.Subject, id)
		if err != nil || !res.Present {
			return err
		}
		tokens, err := a.entityTokens(ctx, res.EntityID)
		if err != nil {
			return err
		}
		if in.NextLogin != nil && in.NextLogin.Present && in.NextLogin.EntityID == res.EntityID {
			pass.next = in.NextLogin
		}
		res, err = pass.complete(ctx, res, ent, tokens)
		return err
	})
	switch {
	case err != nil && !final:
		return InventoryResult{}, err // transient: Temporal retries, resuming from the heartbeat
	case err != nil:
		return unavailable(in.Subject, lookFor(in.Subject, id), err)
	}
	return res, nil
}

func vaultIdentityOf(e *DirectoryEntry) *VaultIdentity {
	if e == nil {
		return nil
	}
	return e.Vault
}

// patiently runs f once. A transient failure (transport, throttling, 5xx) is returned as an
// error, so Temporal retries the activity (an inventory resumes from its heartbeat), until
// this is the activity's last attempt or Patience has passed since it was first scheduled:
// then patiently reports it gone for good (true), and the caller reports the system
// unavailable instead of failing, so that the run contains the other systems.
func (a *Activities) patiently(ctx context.Context, f func() error) (gaveUp bool, err error) {
	err = f()
	var appErr *temporal.ApplicationError
	if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) {
		return err != nil, err
	}
	if !activity.IsActivity(ctx) {
		return true, err
	}
	info := activity.GetInfo(ctx)
	last := info.RetryPolicy != nil && info.RetryPolicy.MaximumAttempts > 0 && info.Attempt >= info.RetryPolicy.MaximumAttempts
	expired := a.Patience > 0 && !info.ScheduledTime.IsZero() && time.Since(info.ScheduledTime) >= a.Patience
	return last || expired, err
}

// unavailable turns a failure to ask Vault into a result that holds back only Vault's steps;
// mistakes in the input or the directory stay errors, raised before any change.
func unavailable(subject, lookedFor string, err error) (InventoryResult, error) {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && (appErr.Type() == ErrInvalidInput || appErr.Type() == ErrDirectory) {
		return InventoryResult{}, err
	}
	msg := err.Error()
	if appErr != nil {
		msg = appErr.Message()
	}
	return InventoryResult{
		Subject: subject, Status: StatusUnavailable, LookedFor: lookedFor,
		Detail:   "Vault could not be asked: " + msg,
		Policies: []string{}, Tokens: []TokenInfo{}, Accessors: []string{}, Logins: []Login{}, Mounts: []string{},
		ReadableSecrets: []SecretRef{}, ReadablePaths: []string{}, Undetermined: []string{"everything in Vault: " + msg},
	}, nil
}

// newInventoryPass starts an inventory of the secrets under prefix in mount ("" means every
// KV v2 mount; prefix "" or "/" means the whole mount).
func (a *Activities) newInventoryPass(secretMount, secretPrefix string) (*inventoryPass, error) {
	mount := strings.Trim(secretMount, "/")
	if mount != "" {
		if err := validSegment("secret_mount", mount); err != nil {
			return nil, err
		}
	}
	prefix := strings.TrimLeft(secretPrefix, "/")
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &inventoryPass{a: a, mount: mount, prefix: prefix, meta: map[string]int{}}, nil
}

// inventoryPass reads what one or more subjects hold, listing mounts and secrets and reading
// each secret's metadata at most once however many subjects it serves.
type inventoryPass struct {
	a             *Activities
	mount, prefix string
	listed        bool
	mounts        []string
	paths         []string             // candidate data paths: mount/data/path
	refs          map[string]SecretRef // data path → secret
	auth          map[string]authMount // by path; nil until read
	meta          map[string]int       // mount/path → current version; -1 when deleted since listed
	cleanupLater  bool                 // remove probe tokens after returning (before a first cut)
	next          *NextLoginResult     // the next login, captured before the first cut
}

// entity resolves the subject's identity entity: the start of its inventory. A subject with
// no entity is a result with Present false.
func (p *inventoryPass) entity(ctx context.Context, subject string, id *VaultIdentity) (InventoryResult, map[string]any, error) {
	looked := lookFor(subject, id)
	ent, err := p.a.entityFor(ctx, subject, id)
	if err != nil {
		return InventoryResult{}, nil, err
	}
	res := InventoryResult{
		Subject: subject, LookedFor: looked, Status: StatusAbsent,
		Policies: []string{}, Tokens: []TokenInfo{}, Accessors: []string{}, Logins: []Login{}, Mounts: []string{},
		ReadableSecrets: []SecretRef{}, ReadablePaths: []string{}, Undetermined: []string{},
	}
	if ent == nil {
		res.Detail = "not present in Vault: no " + looked
		return res, nil, nil
	}
	res.Present, res.Status = true, StatusFound
	res.EntityID = dataString(ent, "id")
	res.EntityName = dataString(ent, "name")
	res.EntityDisabled = ent["disabled"] == true
	res.Detail = fmt.Sprintf("identity entity %s (%s), found as %s", res.EntityName, res.EntityID, looked)
	return res, ent, nil
}

// list reads the mounts and the secrets under the prefix, once per pass.
func (p *inventoryPass) list(ctx context.Context) error {
	if p.listed {
		return nil
	}
	a := p.a
	// The auth methods are read while the secrets are listed, and the mounts are listed at
	// once: the round trips are those of the deepest tree, not the sum.
	var auth map[string]authMount
	authErr := make(chan error, 1)
	go func() {
		var err error
		auth, err = a.authMounts(ctx)
		authErr <- err
	}()
	if p.mount != "" {
		p.mounts = []string{p.mount}
	} else {
		var err error
		if p.mounts, err = a.kvMounts(ctx); err != nil {
			<-authErr
			return err
		}
	}
	secrets := make([][]string, len(p.mounts))
	errs := make([]error, len(p.mounts))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4) // mounts walked at once, each with its own bound
	for i, m := range p.mounts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			secrets[i], errs[i] = a.listSecrets(ctx, m, p.prefix)
		}()
	}
	wg.Wait()
	if err := <-authErr; err != nil {
		return err
	}
	p.refs = map[string]SecretRef{}
	p.paths = nil
	for i, m := range p.mounts {
		if errs[i] != nil {
			return errs[i]
		}
		for _, s := range secrets[i] {
			dp := m + "/data/" + s
			p.paths = append(p.paths, dp)
			p.refs[dp] = SecretRef{Mount: m, Path: s}
		}
	}
	p.auth = auth
	p.listed = true
	return nil
}

// complete fills in res from the entity and its live tokens: the policies, the accessors,
// the ways to log in, and the secrets Vault says a live token or the next login may read.
func (p *inventoryPass) complete(ctx context.Context, res InventoryResult, ent map[string]any, tokens []TokenInfo) (InventoryResult, error) {
	a := p.a
	if err := p.list(ctx); err != nil {
		return InventoryResult{}, err
	}
	res.Mounts = append([]string{}, p.mounts...)
	res.Tokens = tokens
	policySet := map[string]bool{}
	for _, name := range dataStrings(ent, "policies") {
		policySet[name] = true
	}
	readable := map[string]bool{}
	aclSource := false
	for _, t := range tokens {
		res.Accessors = append(res.Accessors, t.Accessor)
		for _, name := range t.Policies {
			policySet[name] = true
		}
		r, ok, err := a.capabilityRead(ctx, t.Accessor, p.paths)
		if err != nil {
			return InventoryResult{}, err
		}
		var notes []string
		if !ok {
			// Vault no longer answers for a token it listed a moment ago: most often the first
			// cut disabled the entity (what the person's logins could read was asked of Vault
			// before it: ReadableSecrets), or the token was revoked or expired since. It was
			// live, so what it carries counts: firebreak evaluates its policies itself.
			r, notes, err = a.ownEvaluation(ctx, ent, t.Policies, p.paths)
			if err != nil {
				return InventoryResult{}, err
			}
			aclSource = true
			res.Undetermined = append(res.Undetermined, fmt.Sprintf("token %s: Vault no longer answers for it (its entity disabled, or the token revoked or expired since it was listed); firebreak evaluated its policies %v itself", t.Accessor, t.Policies))
			res.Undetermined = append(res.Undetermined, notes...)
		}
		for k := range r {
			readable[k] = true
		}
	}
	res.Policies = slices.Sorted(maps.Keys(policySet))

	// The next login: one probe per way of logging in, evaluated by Vault; or, after a first
	// cut, the grants Vault gave a probe before it, evaluated by Vault now.
	res.ReadableSource = SourceVault
	if aclSource {
		res.ReadableSource = SourceFirebreakACL
	}
	if p.next != nil {
		src, err := p.completeCaptured(ctx, &res, ent, readable)
		if err != nil {
			return InventoryResult{}, err
		}
		if res.ReadableSource != SourceFirebreakACL {
			res.ReadableSource = src
		}
		return p.finish(ctx, res, readable)
	}
	var grants []loginGrant
	byAccessor := map[string]authMount{}
	for _, m := range p.auth {
		byAccessor[m.Accessor] = m
	}
	aliases := entityAliases(ent)
	for _, al := range aliases {
		m, ok := byAccessor[al.MountAccessor]
		if !ok {
			res.Undetermined = append(res.Undetermined, fmt.Sprintf("alias %q: its auth mount (accessor %s) is not listed by sys/auth", al.Name, al.MountAccessor))
			continue
		}
		g, notes := a.methodPolicies(ctx, al, m)
		grants = append(grants, g...)
		res.Undetermined = append(res.Undetermined, notes...)
	}
	if len(aliases) == 0 {
		res.Undetermined = append(res.Undetermined, "the entity has no alias, so no auth method logs in to it: only its live tokens were considered")
	}
	for _, g := range grants {
		res.Logins = append(res.Logins, Login{Via: g.Via, Policies: append([]string{}, g.Policies...)})
	}
	if res.EntityDisabled {
		res.Undetermined = append(res.Undetermined, "next login: the entity is disabled, so Vault refuses it")
		grants = nil
	}
	tokenMount, haveTokenMount := p.auth["token/"]
	seen := map[string]bool{}
	for _, g := range grants {
		key := strings.Join(g.Policies, ",")
		if seen[key] {
			continue
		}
		seen[key] = true
		var pr probeResult
		if haveTokenMount {
			pr = a.probe(ctx, res.EntityID, aliases, tokenMount, g.Policies, p.paths, p.cleanupLater)
		} else {
			pr.failed = errors.New("no token auth mount listed by sys/auth")
		}
		switch {
		case pr.refused != "":
			res.Undetermined = append(res.Undetermined, "next login through "+g.Via+": "+pr.refused)
		case pr.failed != nil:
			if retryable(pr.failed) {
				return InventoryResult{}, pr.failed
			}
			r, notes, err := a.ownEvaluation(ctx, ent, g.Policies, p.paths)
			if err != nil {
				return InventoryResult{}, err
			}
			res.ReadableSource = SourceFirebreakACL
			res.Undetermined = append(res.Undetermined, fmt.Sprintf("next login through %s: Vault could not be asked with a probe token (%s); firebreak evaluated the policies itself", g.Via, errMessage(pr.failed)))
			res.Undetermined = append(res.Undetermined, notes...)
			for k := range r {
				readable[k] = true
			}
		default:
			for k := range pr.readable {
				readable[k] = true
			}
		}
	}
	return p.finish(ctx, res, readable)
}

// completeCaptured asks Vault which of the pass's secrets the next login's captured grants
// allow (evaluateCaptured), and says who decided.
func (p *inventoryPass) completeCaptured(ctx context.Context, res *InventoryResult, ent map[string]any, readable map[string]bool) (string, error) {
	a := p.a
	src := SourceResultantACL
	res.Logins = append(res.Logins, p.next.Logins...)
	res.Undetermined = append(res.Undetermined, p.next.Undetermined...)
	for _, acl := range p.next.ACLs {
		var r map[string]bool
		var notes []string
		var err error
		switch {
		case acl.Refused:
			continue
		case !acl.Captured:
			r, notes, err = a.ownEvaluation(ctx, ent, acl.Policies, p.paths)
			src = SourceFirebreakACL
		default:
			r, notes, err = a.evaluateCaptured(ctx, acl, p.paths)
		}
		if err != nil {
			return "", err
		}
		res.Undetermined = append(res.Undetermined, notes...)
		for k := range r {
			readable[k] = true
		}
	}
	return src, nil
}

// finish sorts res and fills in the readable secrets at their current versions.
func (p *inventoryPass) finish(ctx context.Context, res InventoryResult, readable map[string]bool) (InventoryResult, error) {
	sort.Strings(res.Undetermined)
	res.Logins = sortLogins(res.Logins)

	if err := p.readVersions(ctx, readable); err != nil {
		return InventoryResult{}, err
	}
	for _, dp := range p.paths {
		if !readable[dp] {
			continue
		}
		ref := p.refs[dp]
		key := ref.Mount + "/" + ref.Path
		version := p.meta[key]
		if version < 0 {
			continue // deleted since it was listed
		}
		ref.Version = version
		res.ReadableSecrets = append(res.ReadableSecrets, ref)
		res.ReadablePaths = append(res.ReadablePaths, key)
	}
	return res, nil
}

// metadataConcurrency bounds the secret metadata reads in flight in one inventory.
const metadataConcurrency = 8

// readVersions reads the current version of each readable secret not read before in this
// pass, several at a time (one round trip for a handful, not one per secret); -1 marks a
// secret deleted since it was listed.
func (p *inventoryPass) readVersions(ctx context.Context, readable map[string]bool) error {
	var todo []string
	for _, dp := range p.paths {
		ref := p.refs[dp]
		if _, known := p.meta[ref.Mount+"/"+ref.Path]; readable[dp] && !known {
			todo = append(todo, dp)
		}
	}
	versions := make([]int, len(todo))
	errs := make([]error, len(todo))
	sem := make(chan struct{}, metadataConcurrency)
	var wg sync.WaitGroup
	for i, dp := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ref := p.refs[dp]
			metaPath := ref.Mount + "/metadata/" + ref.Path
			md, err := p.a.Client.ReadWithContext(ctx, metaPath)
			if err != nil {
				errs[i] = classify(err, "read secret metadata", metaPath)
				return
			}
			versions[i] = -1
			if md != nil && md.Data != nil {
				versions[i] = dataInt(md.Data, "current_version")
			}
		}()
	}
	wg.Wait()
	for i, dp := range todo {
		if errs[i] != nil {
			return errs[i]
		}
		ref := p.refs[dp]
		p.meta[ref.Mount+"/"+ref.Path] = versions[i]
	}
	return nil
}

func sortLogins(l []Login) []Login {
	sort.Slice(l, func(i, j int) bool { return l[i].Via < l[j].Via })
	if l == nil {
		return []Login{}
	}
	return l
}

func retryable(err error) bool {
	var appErr *temporal.ApplicationError
	return !errors.As(err, &appErr) || !appErr.NonRetryable()
}

// ownEvaluation is firebreak's own reading of what a login carrying loginPolicies could read,
// for when Vault cannot be asked with a probe token: the entity's, its groups' and the login's
// policies, with Vault's path rules. Templated paths are not evaluated; notes say which.
func (a *Activities) ownEvaluation(ctx context.Context, ent map[string]any, loginPolicies []string, paths []string) (map[string]bool, []string, error) {
	groups, err := a.entityGroupPolicies(ctx, ent)
	if err != nil {
		return nil, nil, err
	}
	names := append(append(append([]string{"default"}, dataStrings(ent, "policies")...), groups...), loginPolicies...)
	var rules [][]aclRule
	var notes []string
	root := false
	for _, n := range vaultPolicySet(names) {
		if n == "root" {
			root = true
			continue
		}
		rs, err := a.policyRules(ctx, n)
		if err != nil {
			return nil, nil, err
		}
		var kept []aclRule
		for _, r := range rs {
			if strings.Contains(r.pattern, "{{") {
				notes = append(notes, fmt.Sprintf("policy %s: templated path %q not evaluated by firebreak", n, r.pattern))
				continue
			}
			kept = append(kept, r)
		}
		rules = append(rules, kept)
	}
	dr, err := a.policyRules(ctx, "default")
	if err != nil {
		return nil, nil, err
	}
	rules = append(rules, dr)
	l := newACL(root, rules...)
	out := map[string]bool{}
	for _, p := range paths {
		if l.allows(p, capRead) {
			out[p] = true
		}
	}
	return out, notes, nil
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

// listSecrets lists every secret below prefix in a KV v2 mount, recursively, sorted. The
// directories of one level are listed at once (a round trip per level of the tree, not per
// directory), at most metadataConcurrency at a time.
func (a *Activities) listSecrets(ctx context.Context, mount, prefix string) ([]string, error) {
	var out []string
	level := []string{prefix}
	for len(level) > 0 {
		keys := make([][]string, len(level))
		errs := make([]error, len(level))
		sem := make(chan struct{}, metadataConcurrency)
		var wg sync.WaitGroup
		for i, dir := range level {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				path := mount + "/metadata/" + dir
				s, err := a.Client.ListWithContext(ctx, path)
				if err != nil {
					errs[i] = classify(err, "list secrets", path)
					return
				}
				if s != nil {
					keys[i] = dataStrings(s.Data, "keys")
				}
			}()
		}
		wg.Wait()
		var next []string
		for i, dir := range level {
			if errs[i] != nil {
				return nil, errs[i]
			}
			for _, k := range keys[i] {
				if strings.HasSuffix(k, "/") {
					next = append(next, dir+k)
					continue
				}
				out = append(out, dir+k)
			}
		}
		level = next
	}
	sort.Strings(out)
	return out, nil
}

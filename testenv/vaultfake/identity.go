package vaultfake

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"

	fbvault "github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/seed"
)

// What the sandbox Vault shares with a real one about identities, as real organisations
// set them up: auth methods with accessors (sys/auth), userpass logins that name their
// entity themselves (entity_<8 hex>) and bind it through an alias, identity/lookup/entity,
// entity aliases, identity groups and their policies, templated policies, auth-method
// token_policies, token roles (allowed_entity_aliases, entity_alias), batch tokens and
// sys/capabilities-accessor. The conformance suite runs the same scenarios here and against
// a real OpenBao server.

// UserpassAccessor is the accessor of the sandbox's userpass auth mount ("userpass/").
const UserpassAccessor = "auth_userpass_5a1d0b7e"

// vaultTokenAccessor is the accessor of the token auth mount.
const vaultTokenAccessor = "auth_token_0c3f9a21"

type vaultAuthMount struct {
	path, typ, accessor string
	users               map[string]*vaultUserpassUser // userpass
}

type vaultUserpassUser struct {
	password string
	policies []string
	ttl      time.Duration
}

type vaultAlias struct {
	id, name, mountAccessor, canonicalID string
	created                              time.Time
}

type vaultGroup struct {
	id, name  string
	policies  []string
	members   []string // entity ids
	createdAt time.Time
}

type vaultTokenRole struct {
	name             string
	allowedAliases   []string
	allowedPolicies  []string
	allowedPolGlob   []string
	orphan           bool
	renewable        bool
	explicitMaxTTL   time.Duration
	tokenType        string
	tokenPolicies    []string
	tokenNumUses     int
	pathSuffix       string
	allowedPolicyAny bool
}

// identityState is the identity part of the sandbox Vault's state; v.mu guards it.
type identityState struct {
	auth    map[string]*vaultAuthMount // by path with slash
	aliases map[string]*vaultAlias     // by id
	groups  map[string]*vaultGroup     // by id
	roles   map[string]*vaultTokenRole // token roles by name
	mounts  map[string]string          // secrets engines: path with slash → type ("kv" means KV v2)
	seq     int
}

func (v *Vault) ids() *identityState {
	if v.identity.auth == nil {
		v.identity = identityState{
			auth: map[string]*vaultAuthMount{
				"token/": {path: "token/", typ: "token", accessor: vaultTokenAccessor},
			},
			aliases: map[string]*vaultAlias{},
			groups:  map[string]*vaultGroup{},
			roles:   map[string]*vaultTokenRole{},
			mounts:  map[string]string{"cubbyhole/": "cubbyhole", "identity/": "identity", "sys/": "system"},
		}
	}
	return &v.identity
}

// stableID derives a UUID-shaped id from parts, so seeded ids are the same on every start.
func stableID(parts ...string) string {
	h := sha256.Sum256([]byte("firebreak-sandbox/" + strings.Join(parts, "/")))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// autoEntityName is the name Vault gives an entity it creates at a login: entity_ and the
// first 8 hex digits of a fresh UUID.
func autoEntityName(id string) string { return "entity_" + strings.ReplaceAll(id, "-", "")[:8] }

// enableAuth mounts an auth method; v.mu is held.
func (v *Vault) enableAuth(p, typ, accessor string) *vaultAuthMount {
	st := v.ids()
	p = strings.Trim(p, "/") + "/"
	if accessor == "" {
		accessor = "auth_" + typ + "_" + strings.ReplaceAll(vaultUUID(), "-", "")[:8]
	}
	m := &vaultAuthMount{path: p, typ: typ, accessor: accessor, users: map[string]*vaultUserpassUser{}}
	st.auth[p] = m
	return m
}

func (v *Vault) authByAccessor(acc string) *vaultAuthMount {
	for _, m := range v.ids().auth {
		if m.accessor == acc {
			return m
		}
	}
	return nil
}

// addAlias binds name on the mount with accessor to entity; v.mu is held.
func (v *Vault) addAlias(id, name, mountAccessor, entityID string) *vaultAlias {
	if id == "" {
		id = vaultUUID()
	}
	a := &vaultAlias{id: id, name: name, mountAccessor: mountAccessor, canonicalID: entityID, created: time.Now().UTC()}
	v.ids().aliases[id] = a
	return a
}

func (v *Vault) aliasFor(name, mountAccessor string) *vaultAlias {
	for _, a := range v.ids().aliases {
		if a.name == name && a.mountAccessor == mountAccessor {
			return a
		}
	}
	return nil
}

func (v *Vault) aliasesOf(entityID string) []*vaultAlias {
	var out []*vaultAlias
	for _, a := range v.ids().aliases {
		if a.canonicalID == entityID {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (v *Vault) groupsOf(entityID string) []*vaultGroup {
	var out []*vaultGroup
	for _, g := range v.ids().groups {
		for _, m := range g.members {
			if m == entityID {
				out = append(out, g)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// newEntity creates an entity; v.mu is held.
func (v *Vault) newEntity(id, name string, policies []string) *vaultEntity {
	now := time.Now().UTC()
	if id == "" {
		id = vaultUUID()
	}
	if name == "" {
		name = autoEntityName(id)
	}
	e := &vaultEntity{id: id, name: name, policies: vaultPolicyNames(policies), metadata: map[string]string{}, created: now, updated: now, namespaceID: "root"}
	v.entities[id] = e
	return e
}

func (v *Vault) issueToken(displayName, path, entityID, typ string, policies []string, ttl time.Duration, numUses int) *vaultToken {
	v.ids().seq++
	n := v.ids().seq
	prefix := "hvs."
	if typ == "batch" {
		prefix = "hvb."
	}
	tok := &vaultToken{
		id:       fmt.Sprintf("%s%s-%s-%06d", prefix, strings.ReplaceAll(displayName, "@", "-"), fakebase.Canary, n),
		accessor: fmt.Sprintf("acc-issued-%06d", n), displayName: displayName, path: path, entityID: entityID,
		policies: vaultPolicyNames(append([]string{"default"}, policies...)), created: time.Now(), ttl: ttl,
		typ: typ, numUses: numUses,
	}
	v.tokens[tok.id] = tok
	if typ != "batch" {
		v.accessors[tok.accessor] = tok // batch tokens have no accessor in Vault
	} else {
		tok.accessor = ""
	}
	return tok
}

// identityRoute serves this file's endpoints; false when p is not one of them. v.mu is held.
func (v *Vault) identityRoute(w http.ResponseWriter, req *vaultRequest) bool {
	p := req.path
	st := v.ids()
	switch {
	case p == "sys/auth":
		if !vaultAllow(w, req, "GET") {
			return true
		}
		data := map[string]any{}
		for k, m := range st.auth {
			data[k] = map[string]any{"type": m.typ, "accessor": m.accessor, "description": "", "local": false, "seal_wrap": false, "config": map[string]any{}, "options": nil}
		}
		vaultRespond(w, http.StatusOK, data, nil)
	case strings.HasPrefix(p, "sys/auth/"):
		if !vaultAllow(w, req, "POST") {
			return true
		}
		typ, _ := req.body["type"].(string)
		mp := strings.Trim(strings.TrimPrefix(p, "sys/auth/"), "/") + "/"
		if st.auth[mp] != nil {
			vaultError(w, http.StatusBadRequest, "path is already in use at "+mp)
			return true
		}
		v.enableAuth(mp, typ, "")
		w.WriteHeader(http.StatusNoContent)
	case p == "sys/mounts":
		if !vaultAllow(w, req, "GET") {
			return true
		}
		data := map[string]any{}
		for k, typ := range st.mounts {
			data[k] = map[string]any{"type": typ, "options": nil, "accessor": typ + "_" + stableID(k)[:8]}
		}
		for m := range v.kv {
			data[m+"/"] = map[string]any{"type": "kv", "options": map[string]any{"version": "2"}, "accessor": "kv_" + stableID(m)[:8]}
		}
		vaultRespond(w, http.StatusOK, data, nil)
	case strings.HasPrefix(p, "sys/mounts/"):
		if !vaultAllow(w, req, "POST") {
			return true
		}
		mp := strings.Trim(strings.TrimPrefix(p, "sys/mounts/"), "/")
		typ, _ := req.body["type"].(string)
		opts, _ := req.body["options"].(map[string]any)
		if typ == "kv" && fmt.Sprint(opts["version"]) == "2" || typ == "kv-v2" {
			if v.kv[mp] == nil {
				v.kv[mp] = map[string]*vaultKVSecret{}
			}
		} else {
			st.mounts[mp+"/"] = typ
		}
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(p, "sys/policies/acl/") && req.method == "POST":
		name := strings.ToLower(strings.TrimPrefix(p, "sys/policies/acl/"))
		hcl, _ := req.body["policy"].(string)
		if _, err := fbvault.ParsePolicy(name, templatesAsLiterals(hcl)); err != nil {
			vaultError(w, http.StatusBadRequest, "failed to parse policy: "+err.Error())
			return true
		}
		v.policies[name] = hcl
		w.WriteHeader(http.StatusNoContent)
	case p == "identity/lookup/entity":
		if !vaultAllow(w, req, "POST") {
			return true
		}
		name, _ := req.body["alias_name"].(string)
		acc, _ := req.body["alias_mount_accessor"].(string)
		var e *vaultEntity
		if id, _ := req.body["id"].(string); id != "" {
			e = v.entities[id]
		} else if n, _ := req.body["name"].(string); n != "" {
			e = v.entityByName(n)
		} else if a := v.aliasFor(name, acc); a != nil {
			e = v.entities[a.canonicalID]
		}
		if e == nil {
			w.WriteHeader(http.StatusNoContent)
			return true
		}
		vaultRespond(w, http.StatusOK, v.entityData(e), nil)
	case p == "identity/entity":
		if !vaultAllow(w, req, "POST") {
			return true
		}
		name, _ := req.body["name"].(string)
		pols, _ := vaultStringList(req.body["policies"])
		if e := v.entityByName(name); name != "" && e != nil {
			if req.body["policies"] != nil {
				e.policies = vaultPolicyNames(pols)
			}
			w.WriteHeader(http.StatusNoContent)
			return true
		}
		e := v.newEntity("", name, pols)
		vaultRespond(w, http.StatusOK, map[string]any{"id": e.id, "name": e.name, "aliases": nil}, nil)
	case p == "identity/entity-alias":
		if !vaultAllow(w, req, "POST") {
			return true
		}
		name, _ := req.body["name"].(string)
		acc, _ := req.body["mount_accessor"].(string)
		cid, _ := req.body["canonical_id"].(string)
		switch {
		case v.authByAccessor(acc) == nil:
			vaultError(w, http.StatusBadRequest, "invalid mount accessor \""+acc+"\"")
			return true
		case cid != "" && v.entities[cid] == nil:
			vaultError(w, http.StatusBadRequest, "invalid canonical ID \""+cid+"\"")
			return true
		}
		if a := v.aliasFor(name, acc); a != nil {
			vaultError(w, http.StatusBadRequest, "combination of mount and alias name is already in use")
			return true
		}
		for _, a := range v.aliasesOf(cid) {
			if a.mountAccessor == acc {
				vaultError(w, http.StatusBadRequest, fmt.Sprintf("mount accessor %q has already been used by alias %q which is associated with entity %q; only one alias per mount accessor is allowed", acc, a.name, cid))
				return true
			}
		}
		if cid == "" {
			cid = v.newEntity("", "", nil).id
		}
		a := v.addAlias("", name, acc, cid)
		vaultRespond(w, http.StatusOK, map[string]any{"id": a.id, "canonical_id": cid}, nil)
	case strings.HasPrefix(p, "identity/entity-alias/id/"):
		if !vaultAllow(w, req, "GET", "DELETE") {
			return true
		}
		a := st.aliases[strings.TrimPrefix(p, "identity/entity-alias/id/")]
		if req.method == "DELETE" {
			if a != nil {
				delete(st.aliases, a.id)
			}
			w.WriteHeader(http.StatusNoContent)
			return true
		}
		if a == nil {
			vaultError(w, http.StatusNotFound)
			return true
		}
		vaultRespond(w, http.StatusOK, v.aliasData(a), nil)
	case p == "identity/group":
		if !vaultAllow(w, req, "POST") {
			return true
		}
		name, _ := req.body["name"].(string)
		pols, _ := vaultStringList(req.body["policies"])
		members, _ := vaultStringList(req.body["member_entity_ids"])
		for _, m := range members {
			if v.entities[m] == nil {
				vaultError(w, http.StatusBadRequest, "1 error occurred:\n\t* invalid entity identifier "+m+"\n\n")
				return true
			}
		}
		g := &vaultGroup{id: vaultUUID(), name: name, policies: vaultPolicyNames(pols), members: members, createdAt: time.Now().UTC()}
		for _, o := range st.groups {
			if o.name == name {
				o.policies, o.members = g.policies, members
				w.WriteHeader(http.StatusNoContent)
				return true
			}
		}
		if g.name == "" {
			g.name = "group_" + strings.ReplaceAll(g.id, "-", "")[:8]
		}
		st.groups[g.id] = g
		vaultRespond(w, http.StatusOK, map[string]any{"id": g.id, "name": g.name}, nil)
	case strings.HasPrefix(p, "identity/group/id/") || strings.HasPrefix(p, "identity/group/name/"):
		if !vaultAllow(w, req, "GET") {
			return true
		}
		key := p[strings.LastIndex(p, "/")+1:]
		for _, g := range st.groups {
			if g.id == key || g.name == key {
				vaultRespond(w, http.StatusOK, map[string]any{
					"id": g.id, "name": g.name, "policies": nonNilStrings(g.policies), "member_entity_ids": nonNilStrings(g.members),
					"type": "internal", "member_group_ids": nil, "parent_group_ids": nil, "metadata": nil,
					"creation_time": g.createdAt.Format(time.RFC3339Nano), "last_update_time": g.createdAt.Format(time.RFC3339Nano),
				}, nil)
				return true
			}
		}
		vaultError(w, http.StatusNotFound)
	case p == "sys/capabilities-accessor":
		v.capabilitiesAccessor(w, req)
	case p == "auth/token/roles" || p == "auth/token/roles/":
		if !vaultAllow(w, req, "LIST") {
			return true
		}
		keys := make([]string, 0, len(st.roles))
		for k := range st.roles {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) == 0 {
			vaultError(w, http.StatusNotFound)
			return true
		}
		vaultRespond(w, http.StatusOK, map[string]any{"keys": keys}, nil)
	case strings.HasPrefix(p, "auth/token/roles/"):
		v.tokenRole(w, req, strings.TrimPrefix(p, "auth/token/roles/"))
	case p == "auth/token/create" || strings.HasPrefix(p, "auth/token/create/") || p == "auth/token/create-orphan":
		v.tokenCreate(w, req, strings.TrimPrefix(strings.TrimPrefix(p, "auth/token/create"), "/"))
	default:
		return v.userpassRoute(w, req)
	}
	return true
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (v *Vault) entityByName(name string) *vaultEntity {
	for _, e := range v.entities {
		if e.name == name {
			return e
		}
	}
	return nil
}

func (v *Vault) aliasData(a *vaultAlias) map[string]any {
	m := v.authByAccessor(a.mountAccessor)
	mp, mt := "", ""
	if m != nil {
		mp, mt = "auth/"+m.path, m.typ
	}
	return map[string]any{
		"id": a.id, "name": a.name, "canonical_id": a.canonicalID, "mount_accessor": a.mountAccessor,
		"mount_path": mp, "mount_type": mt, "metadata": nil, "custom_metadata": nil, "local": false,
		"creation_time": a.created.Format(time.RFC3339Nano), "last_update_time": a.created.Format(time.RFC3339Nano),
		"merged_from_canonical_ids": nil,
	}
}

// userpassRoute serves auth/<mount>/users/<name> and auth/<mount>/login/<name> of userpass
// mounts.
func (v *Vault) userpassRoute(w http.ResponseWriter, req *vaultRequest) bool {
	rest, ok := strings.CutPrefix(req.path, "auth/")
	if !ok {
		return false
	}
	for mp, m := range v.ids().auth {
		after, ok := strings.CutPrefix(rest, mp)
		if !ok || m.typ != "userpass" {
			continue
		}
		switch {
		case strings.HasPrefix(after, "users/"):
			name := strings.ToLower(strings.TrimPrefix(after, "users/"))
			if !vaultAllow(w, req, "GET", "POST", "DELETE") {
				return true
			}
			u := m.users[name]
			switch req.method {
			case "GET":
				if u == nil {
					vaultError(w, http.StatusNotFound)
					return true
				}
				vaultRespond(w, http.StatusOK, map[string]any{
					"token_policies": nonNilStrings(u.policies), "policies": nonNilStrings(u.policies),
					"token_ttl": int64(u.ttl.Seconds()), "token_max_ttl": 0, "token_type": "default",
					"token_bound_cidrs": []string{}, "token_explicit_max_ttl": 0, "token_no_default_policy": false,
					"token_num_uses": 0, "token_period": 0,
				}, nil)
			case "DELETE":
				delete(m.users, name)
				w.WriteHeader(http.StatusNoContent)
			default:
				if u == nil {
					u = &vaultUserpassUser{}
					m.users[name] = u
				}
				if pw, ok := req.body["password"].(string); ok {
					u.password = pw
				}
				for _, k := range []string{"token_policies", "policies"} {
					if raw, ok := req.body[k]; ok {
						l, _ := vaultStringList(raw)
						u.policies = vaultPolicyNames(l)
					}
				}
				if raw, ok := req.body["token_ttl"]; ok {
					u.ttl = vaultDuration(raw)
				}
				w.WriteHeader(http.StatusNoContent)
			}
			return true
		case strings.HasPrefix(after, "login/"):
			if !vaultAllow(w, req, "POST") {
				return true
			}
			name := strings.ToLower(strings.TrimPrefix(after, "login/"))
			pw, _ := req.body["password"].(string)
			u := m.users[name]
			if u == nil || u.password != pw {
				vaultError(w, http.StatusBadRequest, "invalid username or password")
				return true
			}
			a := v.aliasFor(name, m.accessor)
			if a == nil {
				e := v.newEntity("", "", nil)
				a = v.addAlias("", name, m.accessor, e.id)
			}
			e := v.entities[a.canonicalID]
			if e != nil && e.disabled {
				vaultError(w, http.StatusForbidden, "permission denied")
				return true
			}
			ttl := u.ttl
			if ttl == 0 {
				ttl = 768 * time.Hour
			}
			tok := v.issueToken(m.path[:len(m.path)-1]+"-"+name, "auth/"+m.path+"login/"+name, a.canonicalID, "service", u.policies, ttl, 0)
			vaultRespondAuth(w, tok, true)
			return true
		}
	}
	return false
}

func vaultDuration(raw any) time.Duration {
	switch x := raw.(type) {
	case string:
		if d, err := time.ParseDuration(x); err == nil {
			return d
		}
		var n int
		if _, err := fmt.Sscanf(x, "%d", &n); err == nil {
			return time.Duration(n) * time.Second
		}
	default:
		if n, err := vaultInt(raw); err == nil {
			return time.Duration(n) * time.Second
		}
	}
	return 0
}

func (v *Vault) tokenRole(w http.ResponseWriter, req *vaultRequest, name string) {
	st := v.ids()
	if !vaultAllow(w, req, "GET", "POST", "DELETE") {
		return
	}
	switch req.method {
	case "DELETE":
		delete(st.roles, name)
		w.WriteHeader(http.StatusNoContent)
	case "GET":
		r := st.roles[name]
		if r == nil {
			vaultError(w, http.StatusNotFound)
			return
		}
		vaultRespond(w, http.StatusOK, map[string]any{
			"name": r.name, "allowed_entity_aliases": nonNilStrings(r.allowedAliases), "allowed_policies": nonNilStrings(r.allowedPolicies),
			"allowed_policies_glob": nonNilStrings(r.allowedPolGlob), "disallowed_policies": []string{}, "orphan": r.orphan,
			"renewable": r.renewable, "token_explicit_max_ttl": int64(r.explicitMaxTTL.Seconds()), "token_type": r.tokenType,
			"token_policies": nonNilStrings(r.tokenPolicies), "path_suffix": "", "token_num_uses": r.tokenNumUses,
		}, nil)
	default:
		r := st.roles[name]
		if r == nil {
			r = &vaultTokenRole{name: name, renewable: true, tokenType: "default-service"}
			st.roles[name] = r
		}
		list := func(k string) ([]string, bool) {
			raw, ok := req.body[k]
			if !ok {
				return nil, false
			}
			l, _ := vaultStringList(raw)
			return l, true
		}
		if l, ok := list("allowed_entity_aliases"); ok {
			r.allowedAliases = l
		}
		if l, ok := list("allowed_policies"); ok {
			r.allowedPolicies = vaultPolicyNames(l)
		}
		if l, ok := list("allowed_policies_glob"); ok {
			r.allowedPolGlob = l
		}
		if l, ok := list("token_policies"); ok {
			r.tokenPolicies = vaultPolicyNames(l)
		}
		if raw, ok := req.body["orphan"]; ok {
			r.orphan, _ = vaultBool(raw)
		}
		if raw, ok := req.body["renewable"]; ok {
			r.renewable, _ = vaultBool(raw)
		}
		if raw, ok := req.body["token_explicit_max_ttl"]; ok {
			r.explicitMaxTTL = vaultDuration(raw)
		}
		if s, ok := req.body["token_type"].(string); ok {
			r.tokenType = s
		}
		if raw, ok := req.body["token_num_uses"]; ok {
			r.tokenNumUses, _ = vaultInt(raw)
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// tokenCreate serves auth/token/create[/<role>]: a role may bind the token to an entity
// through entity_alias, as Vault does (an unknown alias creates an entity for it).
func (v *Vault) tokenCreate(w http.ResponseWriter, req *vaultRequest, role string) {
	if !vaultAllow(w, req, "POST") {
		return
	}
	pols, _ := vaultStringList(req.body["policies"])
	ttl := vaultDuration(req.body["ttl"])
	if ttl == 0 {
		ttl = 768 * time.Hour
	}
	numUses, _ := vaultInt(req.body["num_uses"])
	typ, _ := req.body["type"].(string)
	if typ == "" {
		typ = "service"
	}
	entityID, display := "", "token"
	if req.token != nil {
		entityID = req.token.entityID
	}
	if dn, _ := req.body["display_name"].(string); dn != "" {
		display = "token-" + dn
	}
	if role != "" && role != "create-orphan" {
		r := v.ids().roles[role]
		if r == nil {
			vaultError(w, http.StatusBadRequest, "unknown role "+role)
			return
		}
		for _, p := range vaultPolicyNames(pols) {
			if p == "default" {
				continue
			}
			if !containsString(r.allowedPolicies, p) && !globMatch(r.allowedPolGlob, p) && req.token != nil {
				vaultError(w, http.StatusBadRequest, fmt.Sprintf("token policies (%v) must be subset of the role's allowed policies (%v)", pols, r.allowedPolicies))
				return
			}
		}
		if r.explicitMaxTTL > 0 && ttl > r.explicitMaxTTL {
			ttl = r.explicitMaxTTL
		}
		if r.tokenType == "batch" {
			typ = "batch"
		}
		if r.tokenNumUses > 0 && (numUses == 0 || numUses > r.tokenNumUses) {
			numUses = r.tokenNumUses
		}
		if alias, _ := req.body["entity_alias"].(string); alias != "" {
			if !globMatch(r.allowedAliases, alias) {
				vaultError(w, http.StatusBadRequest, "invalid 'entity_alias' value")
				return
			}
			a := v.aliasFor(alias, vaultTokenAccessor)
			if a == nil {
				e := v.newEntity("", "", nil)
				a = v.addAlias("", alias, vaultTokenAccessor, e.id)
			}
			if e := v.entities[a.canonicalID]; e != nil && e.disabled {
				vaultError(w, http.StatusForbidden, "entity from given entity alias is disabled")
				return
			}
			entityID = a.canonicalID
		}
	}
	path := "auth/token/create"
	if role != "" {
		path += "/" + role
	}
	tok := v.issueToken(display, path, entityID, typ, pols, ttl, numUses)
	vaultRespondAuth(w, tok, false)
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func globMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok || p == s || (strings.HasSuffix(p, "*") && strings.HasPrefix(s, strings.TrimSuffix(p, "*"))) {
			return true
		}
	}
	return false
}

// capabilitiesAccessor answers sys/capabilities-accessor the way Vault does: the token's
// policies, its entity's and the entity's groups', templated paths filled in from the
// entity; "invalid accessor" for an unknown token, "invalid token" for one Vault refuses
// (its entity disabled).
func (v *Vault) capabilitiesAccessor(w http.ResponseWriter, req *vaultRequest) {
	if !vaultAllow(w, req, "POST") {
		return
	}
	acc, _ := req.body["accessor"].(string)
	var paths []string
	if s, ok := req.body["path"].(string); ok && s != "" {
		paths = append(paths, s)
	}
	if l, err := vaultStringList(req.body["paths"]); err == nil {
		paths = append(paths, l...)
	}
	if acc == "" {
		vaultError(w, http.StatusBadRequest, "missing accessor")
		return
	}
	if len(paths) == 0 {
		vaultError(w, http.StatusBadRequest, "missing paths")
		return
	}
	t := v.accessors[acc]
	if t == nil || t.revoked || v.vaultTokenExpired(t) {
		vaultError(w, http.StatusBadRequest, vaultMultiError("invalid accessor"))
		return
	}
	if e := v.entities[t.entityID]; e != nil && e.disabled {
		vaultError(w, http.StatusBadRequest, vaultMultiError("invalid token"))
		return
	}
	data := v.capabilitiesOf(t, paths)
	vaultRespond(w, http.StatusOK, data, nil)
}

// capabilitiesOf lists the capabilities the token has on each path, plus "capabilities" (all
// of them, as Vault answers); v.mu is held.
func (v *Vault) capabilitiesOf(t *vaultToken, paths []string) map[string]any {
	var pols []*fbvault.Policy
	root := false
	names := append([]string(nil), t.policies...)
	var ent *vaultEntity
	if t.entityID != "" {
		ent = v.entities[t.entityID]
	}
	if ent != nil {
		names = append(names, ent.policies...)
		for _, g := range v.groupsOf(ent.id) {
			names = append(names, g.policies...)
		}
	}
	for _, n := range vaultPolicyNames(names) {
		if n == "root" {
			root = true
		}
		hcl, ok := v.policies[n]
		if !ok {
			continue
		}
		if p, err := fbvault.ParsePolicy(n, v.applyTemplates(hcl, ent)); err == nil {
			pols = append(pols, p)
		}
	}
	acl := fbvault.MergePolicies(root, pols...)
	data := map[string]any{}
	var all []string
	for _, path := range paths {
		caps := acl.Capabilities(path)
		data[path] = caps
		all = append(all, caps...)
	}
	data["capabilities"] = all
	return data
}

var templateRE = regexp.MustCompile(`\{\{\s*([^}]*?)\s*\}\}`)

// templatesAsLiterals makes a templated policy parseable for a syntax check.
func templatesAsLiterals(hcl string) string { return templateRE.ReplaceAllString(hcl, "tmpl") }

// applyTemplates fills in the identity templates of a policy from the entity, as Vault does
// when it evaluates a policy for a request; a path block whose template cannot be filled in
// (no entity, no such alias or metadata) is dropped, as Vault drops it.
func (v *Vault) applyTemplates(hcl string, e *vaultEntity) string {
	if !strings.Contains(hcl, "{{") {
		return hcl
	}
	var out []string
	for _, block := range splitPathBlocks(hcl) {
		ok := true
		filled := templateRE.ReplaceAllStringFunc(block, func(m string) string {
			val, found := v.templateValue(strings.TrimSpace(templateRE.FindStringSubmatch(m)[1]), e)
			if !found {
				ok = false
			}
			return val
		})
		if ok {
			out = append(out, filled)
		}
	}
	return strings.Join(out, "\n")
}

func (v *Vault) templateValue(key string, e *vaultEntity) (string, bool) {
	if e == nil {
		return "", false
	}
	switch {
	case key == "identity.entity.id":
		return e.id, true
	case key == "identity.entity.name":
		return e.name, true
	case strings.HasPrefix(key, "identity.entity.metadata."):
		val, ok := e.metadata[strings.TrimPrefix(key, "identity.entity.metadata.")]
		return val, ok && val != ""
	case strings.HasPrefix(key, "identity.entity.aliases."):
		rest := strings.TrimPrefix(key, "identity.entity.aliases.")
		acc, field, _ := strings.Cut(rest, ".")
		for _, a := range v.aliasesOf(e.id) {
			if a.mountAccessor == acc {
				switch field {
				case "name":
					return a.name, true
				case "id":
					return a.id, true
				}
			}
		}
	case strings.HasPrefix(key, "identity.groups.names."):
		rest := strings.TrimPrefix(key, "identity.groups.names.")
		name, field, _ := strings.Cut(rest, ".")
		for _, g := range v.groupsOf(e.id) {
			if g.name == name && field == "id" {
				return g.id, true
			}
		}
	case strings.HasPrefix(key, "identity.groups.ids."):
		rest := strings.TrimPrefix(key, "identity.groups.ids.")
		id, field, _ := strings.Cut(rest, ".")
		for _, g := range v.groupsOf(e.id) {
			if g.id == id && field == "name" {
				return g.name, true
			}
		}
	}
	return "", false
}

// splitPathBlocks splits a policy into its top-level blocks by brace depth.
func splitPathBlocks(hcl string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(hcl); i++ {
		switch {
		case hcl[i] == '{' && !(i+1 < len(hcl) && hcl[i+1] == '{') && !(i > 0 && hcl[i-1] == '{'):
			depth++
		case hcl[i] == '}' && !(i+1 < len(hcl) && hcl[i+1] == '}') && !(i > 0 && hcl[i-1] == '}'):
			depth--
			if depth == 0 {
				out = append(out, hcl[start:i+1])
				start = i + 1
			}
		}
	}
	if rest := strings.TrimSpace(hcl[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}

// seedIdentities gives the seeded organisation what a real one has: a userpass auth mount
// through which each developer logs in (an alias on their entity, and a user whose
// token_policies are what their tokens carry), identity groups, and the token role
// firebreak's probe tokens use. v.mu need not be held: the server is not serving yet.
func (v *Vault) seedIdentities(org *seed.Org) {
	st := v.ids()
	if len(org.Developers) == 0 {
		return // an empty organisation: a test seeds it through the API, as a real Vault
	}
	up := v.enableAuth("userpass", "userpass", UserpassAccessor)
	st.roles[fbvault.DefaultProbeRole] = &vaultTokenRole{
		name: fbvault.DefaultProbeRole, allowedAliases: []string{"*"}, allowedPolGlob: []string{"*"},
		orphan: true, explicitMaxTTL: 60 * time.Second, tokenType: "service",
	}
	for _, d := range org.Developers {
		id := vaultEntityID(d.Name)
		login := d.Name
		if d.VaultLogin != "" {
			login = d.VaultLogin
		}
		if d.AutoEntity {
			e := v.entities[id]
			delete(v.entities, id)
			e.id = stableID("entity", d.Name)
			e.name = autoEntityName(e.id)
			v.entities[e.id] = e
			for _, t := range v.tokens {
				if t.entityID == id {
					t.entityID = e.id
				}
			}
			id = e.id
		}
		v.addAlias(stableID("alias", d.Name), login, up.accessor, id)
		var pols []string
		for _, t := range d.VaultTokens {
			for _, p := range t.Policies {
				if p != "default" {
					pols = append(pols, p)
				}
			}
		}
		pols = append(pols, d.LoginPolicies...)
		up.users[login] = &vaultUserpassUser{password: "pw-" + fakebase.Canary + "-" + d.Name, policies: vaultPolicyNames(pols), ttl: 8 * time.Hour}
	}
	for _, g := range org.VaultGroups {
		var members []string
		for _, m := range g.Members {
			for _, e := range v.entities {
				if e.name == m || e.id == stableID("entity", m) {
					members = append(members, e.id)
				}
			}
		}
		sort.Strings(members)
		gid := stableID("group", g.Name)
		st.groups[gid] = &vaultGroup{id: gid, name: g.Name, policies: vaultPolicyNames(g.Policies), members: members, createdAt: v.started}
	}
}

// UserpassPassword returns the sandbox password of a developer's userpass login (it
// contains Canary).
func UserpassPassword(developer string) string { return "pw-" + fakebase.Canary + "-" + developer }

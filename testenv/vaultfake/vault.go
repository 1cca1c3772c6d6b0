package vaultfake

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/seed"
)

// RootToken is the sandbox Vault's fixed root token. It contains Canary because a root
// token is secret material.
const RootToken = "hvs.sandbox-root-" + fakebase.Canary + "-0000"

// vaultDefaultPolicyHCL stands in for Vault's built-in "default" policy, which every token
// carries: enough of it for a token to look itself up.
const vaultDefaultPolicyHCL = `path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
path "sys/capabilities-self" { capabilities = ["update"] }`

// Vault is a loopback server that speaks enough of the Vault HTTP API for the unmodified
// github.com/hashicorp/vault/api client: token auth, identity entities, token accessors,
// ACL policies and a KV version 2 engine mounted at "secret". It is seeded from an Org and
// records every call in a Recorder under service "vault", with ops such as
// "POST auth/token/revoke-accessor" or "LIST secret/metadata/shared/" (PUT is recorded as POST
// and GET ?list=true as LIST, as Vault itself treats them).
//
// Non-root tokens are authenticated (unknown, revoked and disabled-entity tokens get 403) but
// their policies are not enforced: the sandbox checks who is calling, not what they may do.
type Vault struct {
	*fakebase.Server

	mu        sync.Mutex
	started   time.Time
	tokens    map[string]*vaultToken  // by token id
	accessors map[string]*vaultToken  // by accessor
	entities  map[string]*vaultEntity // by entity id
	policies  map[string]string       // ACL policy name → HCL
	kv        map[string]map[string]*vaultKVSecret
	extra     vaultExtra    // logins, leases and TOTP secrets (auth.go)
	db        vaultDB       // database secrets engines (database.go)
	identity  identityState // auth mounts, aliases, groups, token roles (identity.go)
}

type vaultToken struct {
	id, accessor, displayName, path, entityID string
	policies                                  []string
	created                                   time.Time
	ttl                                       time.Duration
	revoked                                   bool
	typ                                       string // service (default) or batch
	numUses                                   int
}

type vaultEntity struct {
	id, name          string
	policies          []string
	metadata          map[string]string
	disabled          bool
	created, updated  time.Time
	mergedEntityIDs   []string
	inheritedGroupIDs []string
	namespaceID       string
}

type vaultKVSecret struct {
	versions       map[int]*vaultKVVersion
	current        int
	oldest         int
	customMetadata map[string]string
	maxVersions    int
	casRequired    bool
	// metadataVersion counts metadata writes (OpenBao's current_metadata_version).
	metadataVersion int
	created         time.Time
	updated         time.Time
}

type vaultKVVersion struct {
	data    map[string]any
	created time.Time
}

// New starts the sandbox Vault seeded from org: one identity entity per developer (with
// the developer's policies), their tokens, the org's ACL policies plus a "default" policy, and
// the org's KV v2 secrets as version 1. Calls are recorded in rec. Close it when done.
func New(org *seed.Org, rec *fakebase.Recorder) *Vault {
	now := time.Now().UTC().Truncate(time.Second)
	v := &Vault{
		started:   now,
		tokens:    map[string]*vaultToken{},
		accessors: map[string]*vaultToken{},
		entities:  map[string]*vaultEntity{},
		policies:  map[string]string{"default": vaultDefaultPolicyHCL},
		kv:        map[string]map[string]*vaultKVSecret{"secret": {}},
	}
	for _, p := range org.VaultPolicies {
		v.policies[p.Name] = p.HCL
	}
	for _, d := range org.Developers {
		e := &vaultEntity{
			id: vaultEntityID(d.Name), name: d.Name,
			policies: vaultPolicyNames(d.VaultPolicies),
			metadata: map[string]string{"email": d.Email},
			created:  now, updated: now, namespaceID: "root",
		}
		v.entities[e.id] = e
		for _, t := range d.VaultTokens {
			tok := &vaultToken{
				id: t.ID, accessor: t.Accessor, displayName: t.DisplayName, path: t.Path,
				entityID: e.id, policies: append([]string(nil), t.Policies...),
				created: now, ttl: t.TTL,
			}
			v.tokens[tok.id] = tok
			v.accessors[tok.accessor] = tok
		}
	}
	v.seedIdentities(org)
	for _, s := range org.Secrets {
		mount := v.kv[s.Mount]
		if mount == nil {
			mount = map[string]*vaultKVSecret{}
			v.kv[s.Mount] = mount
		}
		data := map[string]any{}
		for k, val := range s.Data {
			data[k] = val
		}
		mount[s.Path] = &vaultKVSecret{
			versions: map[int]*vaultKVVersion{1: {data: data, created: now}},
			current:  1, oldest: 1, customMetadata: vaultCustomMetadata(s.Metadata), created: now, updated: now,
		}
	}
	v.seedDatabases(org)
	v.Server = fakebase.Start(rec, "vault", vaultOp, http.HandlerFunc(v.serve))
	return v
}

// RootToken returns the fixed root token (RootToken).
func (v *Vault) RootToken() string { return RootToken }

// TokenValid reports whether the token with the given accessor exists and is not revoked.
func (v *Vault) TokenValid(accessor string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.accessors[accessor]
	return ok && !t.revoked
}

// TokenSecret returns the secret token id behind accessor (it contains Canary), so tests can
// call the sandbox as that developer.
func (v *Vault) TokenSecret(accessor string) (string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.accessors[accessor]
	if !ok {
		return "", false
	}
	return t.id, true
}

// EntityID returns the id of the entity called name ("" when there is none). Ids are stable
// UUID-shaped strings derived from the name.
func (v *Vault) EntityID(name string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, e := range v.entities {
		if e.name == name {
			return e.id
		}
	}
	return ""
}

// EntityDisabled reports whether the entity called name is disabled.
func (v *Vault) EntityDisabled(name string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, e := range v.entities {
		if e.name == name {
			return e.disabled
		}
	}
	return false
}

// Secret returns the current version of the KV v2 secret at mount/path, with its values as
// strings, and whether it exists.
func (v *Vault) Secret(mount, path string) (data map[string]string, version int, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.kv[mount][path]
	if s == nil || s.current == 0 {
		return nil, 0, false
	}
	return vaultStrings(s.versions[s.current].data), s.current, true
}

// SecretVersion returns version n of the KV v2 secret at mount/path, and whether it exists.
func (v *Vault) SecretVersion(mount, path string, n int) (map[string]string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.kv[mount][path]
	if s == nil || s.versions[n] == nil {
		return nil, false
	}
	return vaultStrings(s.versions[n].data), true
}

// SecretCustomMetadata returns a copy of the custom_metadata of the secret at mount/path.
func (v *Vault) SecretCustomMetadata(mount, path string) map[string]string {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.kv[mount][path]
	if s == nil {
		return nil
	}
	out := map[string]string{}
	for k, val := range s.customMetadata {
		out[k] = val
	}
	return out
}

// PutSecret writes a new version of mount/path as another client would (no check-and-set), so
// tests can simulate a concurrent writer. It returns the new version.
func (v *Vault) PutSecret(mount, path string, data map[string]string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := map[string]any{}
	for k, val := range data {
		m[k] = val
	}
	return v.kvPut(mount, path, m)
}

// vaultPolicyNames lowercases, sorts and de-duplicates policy names, as Vault stores them.
func vaultPolicyNames(in []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, p := range in {
		p = strings.ToLower(strings.TrimSpace(p))
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func vaultStrings(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, val := range m {
		if s, ok := val.(string); ok {
			out[k] = s
		} else {
			b, _ := json.Marshal(val)
			out[k] = string(b)
		}
	}
	return out
}

// vaultEntityID derives a stable UUID-shaped id from an entity name.
func vaultEntityID(name string) string {
	h := sha256.Sum256([]byte("firebreak-sandbox-entity/" + name))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func vaultUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	x := hex.EncodeToString(b[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// vaultMethod is the logical operation Vault derives from an HTTP request.
func vaultMethod(r *http.Request) string {
	switch r.Method {
	case "LIST":
		return "LIST"
	case http.MethodGet:
		if b, _ := strconv.ParseBool(r.URL.Query().Get("list")); b {
			return "LIST"
		}
		return "GET"
	case http.MethodPut, http.MethodPost:
		return "POST"
	}
	return r.Method
}

// vaultOp names a request for the Recorder: logical method plus the path below /v1/.
func vaultOp(r *http.Request, _ []byte) string {
	return vaultMethod(r) + " " + strings.TrimPrefix(r.URL.Path, "/v1/")
}

// vaultRequest is one parsed request.
type vaultRequest struct {
	method string // GET, POST, LIST, DELETE
	path   string // below /v1/, without leading slash
	body   map[string]any
	query  map[string][]string
	token  *vaultToken // nil for the root token
}

func (v *Vault) serve(w http.ResponseWriter, r *http.Request) {
	if v.Fault(w, r) {
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/v1/") {
		vaultError(w, http.StatusNotFound)
		return
	}
	req := &vaultRequest{method: vaultMethod(r), path: strings.TrimPrefix(r.URL.Path, "/v1/"), query: r.URL.Query()}
	if req.method == "POST" {
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&req.body); err != nil && err.Error() != "EOF" {
			vaultError(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
			return
		}
	}
	if req.body == nil {
		req.body = map[string]any{}
	}

	v.mu.Lock()
	defer v.mu.Unlock()

	token := r.Header.Get("X-Vault-Token")
	if token == "" {
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
			token = strings.TrimPrefix(a, "Bearer ")
		}
	}
	if token != RootToken && !vaultUnauthenticated(req.path) {
		t := v.tokens[token]
		if t == nil || t.revoked || v.vaultTokenExpired(t) || (v.entities[t.entityID] != nil && v.entities[t.entityID].disabled) {
			vaultError(w, http.StatusForbidden, "permission denied")
			return
		}
		req.token = t
	}
	v.route(w, req)
}

func (v *Vault) vaultTokenExpired(t *vaultToken) bool {
	return t.ttl > 0 && time.Now().After(t.created.Add(t.ttl))
}

// route dispatches a request; v.mu is held.
func (v *Vault) route(w http.ResponseWriter, req *vaultRequest) {
	if v.identityRoute(w, req) {
		return
	}
	p := req.path
	switch {
	case strings.HasPrefix(p, "identity/entity/name/"):
		name := strings.TrimPrefix(p, "identity/entity/name/")
		if !vaultAllow(w, req, "GET") {
			return
		}
		for _, e := range v.entities {
			if e.name == name {
				vaultRespond(w, http.StatusOK, v.entityData(e), nil)
				return
			}
		}
		vaultError(w, http.StatusNotFound)
	case strings.HasPrefix(p, "identity/entity/id/"):
		id := strings.TrimPrefix(p, "identity/entity/id/")
		if !vaultAllow(w, req, "GET", "POST") {
			return
		}
		e := v.entities[id]
		if req.method == "GET" {
			if e == nil {
				vaultError(w, http.StatusNotFound)
				return
			}
			vaultRespond(w, http.StatusOK, v.entityData(e), nil)
			return
		}
		if e == nil {
			vaultError(w, http.StatusBadRequest, "entity not found from id")
			return
		}
		v.entityUpdate(w, req, e)
	case p == "auth/token/accessors" || p == "auth/token/accessors/":
		if !vaultAllow(w, req, "LIST") {
			return
		}
		keys := []string{}
		for acc, t := range v.accessors {
			if !t.revoked && !v.vaultTokenExpired(t) {
				keys = append(keys, acc)
			}
		}
		sort.Strings(keys)
		if len(keys) == 0 {
			vaultError(w, http.StatusNotFound)
			return
		}
		vaultRespond(w, http.StatusOK, map[string]any{"keys": keys}, nil)
	case p == "auth/token/lookup-accessor" || strings.HasPrefix(p, "auth/token/lookup-accessor/"):
		if !vaultAllow(w, req, "POST") {
			return
		}
		t, ok := v.accessorArg(w, req, "auth/token/lookup-accessor")
		if !ok {
			return
		}
		if t == nil {
			vaultError(w, http.StatusBadRequest, vaultMultiError("invalid accessor"))
			return
		}
		data := v.tokenData(t)
		data["id"] = ""
		if e := v.entities[t.entityID]; e != nil {
			data["identity_policies"] = e.policies
			data["external_namespace_policies"] = map[string]any{}
		}
		vaultRespond(w, http.StatusOK, data, nil)
	case p == "auth/token/revoke-accessor" || strings.HasPrefix(p, "auth/token/revoke-accessor/"):
		if !vaultAllow(w, req, "POST") {
			return
		}
		t, ok := v.accessorArg(w, req, "auth/token/revoke-accessor")
		if !ok {
			return
		}
		if t == nil {
			// Vault answers an unknown or already revoked accessor with 200 and a warning.
			vaultRespond(w, http.StatusOK, nil, []string{"No token found with this accessor"})
			return
		}
		t.revoked = true
		w.WriteHeader(http.StatusNoContent)
	case p == "auth/token/lookup-self":
		if !vaultAllow(w, req, "GET", "POST") {
			return
		}
		if req.token == nil {
			vaultRespond(w, http.StatusOK, map[string]any{
				"id": RootToken, "accessor": "acc-sandbox-root", "display_name": "root",
				"policies": []string{"root"}, "path": "auth/token/root", "entity_id": "", "meta": nil,
				"creation_time": v.started.Unix(), "creation_ttl": 0, "expire_time": nil, "ttl": 0,
				"explicit_max_ttl": 0, "num_uses": 0, "orphan": true, "type": "service",
				"issue_time": v.started.Format(time.RFC3339Nano), "renewable": false,
			}, nil)
			return
		}
		vaultRespond(w, http.StatusOK, v.tokenData(req.token), nil)
	case strings.HasPrefix(p, "sys/policies/acl/") || strings.HasPrefix(p, "sys/policy/"):
		if !vaultAllow(w, req, "GET") {
			return
		}
		name := p[strings.LastIndex(p, "/")+1:]
		hcl, ok := v.policies[name]
		if !ok {
			vaultError(w, http.StatusNotFound)
			return
		}
		data := map[string]any{
			"name": name, "version": 1, "cas_required": false, "modified": v.started.Format(time.RFC3339Nano),
			"allow_slashes_in_identity_templates": false, "allow_wildcards_in_identity_templates": false,
		}
		if strings.HasPrefix(p, "sys/policy/") {
			data["rules"] = hcl
		} else {
			data["policy"] = hcl
		}
		vaultRespond(w, http.StatusOK, data, nil)
	case v.routeExtra(w, req):
	case v.routeDatabase(w, req):
	default:
		mount, rest, _ := strings.Cut(p, "/")
		if v.kv[mount] == nil {
			vaultError(w, http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", p))
			return
		}
		switch {
		case strings.HasPrefix(rest, "data/"):
			v.kvData(w, req, mount, strings.TrimPrefix(rest, "data/"))
		case rest == "metadata" || strings.HasPrefix(rest, "metadata/"):
			v.kvMetadata(w, req, mount, strings.TrimPrefix(strings.TrimPrefix(rest, "metadata"), "/"))
		default:
			vaultRespond(w, http.StatusNotFound, nil, []string{"Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the OpenBao CLI, use 'bao kv get' for this operation."})
		}
	}
}

// accessorArg finds the accessor named in the body or in the path after prefix. A nil token
// with ok means the accessor is unknown or revoked.
func (v *Vault) accessorArg(w http.ResponseWriter, req *vaultRequest, prefix string) (*vaultToken, bool) {
	acc, _ := req.body["accessor"].(string)
	if acc == "" {
		acc = strings.TrimPrefix(strings.TrimPrefix(req.path, prefix), "/")
	}
	if acc == "" {
		vaultError(w, http.StatusBadRequest, vaultMultiError("missing accessor"))
		return nil, false
	}
	t := v.accessors[acc]
	if t == nil || t.revoked || v.vaultTokenExpired(t) {
		return nil, true
	}
	return t, true
}

func (v *Vault) tokenData(t *vaultToken) map[string]any {
	var expire any
	ttl := int64(0)
	if t.ttl > 0 {
		exp := t.created.Add(t.ttl)
		expire = exp.Format(time.RFC3339Nano)
		ttl = int64(time.Until(exp).Seconds())
		if ttl < 0 {
			ttl = 0
		}
	}
	return map[string]any{
		"id": t.id, "accessor": t.accessor, "display_name": t.displayName, "path": t.path,
		"entity_id": t.entityID, "policies": t.policies, "meta": nil,
		"creation_time": t.created.Unix(), "creation_ttl": int64(t.ttl.Seconds()),
		"issue_time": t.created.Format(time.RFC3339Nano), "expire_time": expire, "ttl": ttl,
		"explicit_max_ttl": 0, "num_uses": t.numUses, "orphan": true, "renewable": t.typ != "batch", "type": tokenType(t),
	}
}

func tokenType(t *vaultToken) string {
	if t.typ == "" {
		return "service"
	}
	return t.typ
}

func (v *Vault) entityData(e *vaultEntity) map[string]any {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	aliases := []any{}
	for _, a := range v.aliasesOf(e.id) {
		aliases = append(aliases, v.aliasData(a))
	}
	direct := []string{}
	for _, g := range v.groupsOf(e.id) {
		direct = append(direct, g.id)
	}
	return map[string]any{
		"id": e.id, "name": e.name, "metadata": e.metadata, "policies": nonNil(e.policies),
		"disabled": e.disabled, "namespace_id": e.namespaceID,
		"merged_entity_ids": e.mergedEntityIDs, "aliases": aliases,
		"creation_time": e.created.Format(time.RFC3339Nano), "last_update_time": e.updated.Format(time.RFC3339Nano),
		"direct_group_ids": direct, "inherited_group_ids": nonNil(e.inheritedGroupIDs),
		"group_ids": append(append([]string{}, direct...), e.inheritedGroupIDs...),
	}
}

func (v *Vault) entityUpdate(w http.ResponseWriter, req *vaultRequest, e *vaultEntity) {
	if raw, ok := req.body["disabled"]; ok {
		b, err := vaultBool(raw)
		if err != nil {
			vaultError(w, http.StatusBadRequest, "error converting input for field \"disabled\": "+err.Error())
			return
		}
		e.disabled = b
	}
	if raw, ok := req.body["policies"]; ok {
		ps, err := vaultStringList(raw)
		if err != nil {
			vaultError(w, http.StatusBadRequest, "error converting input for field \"policies\": "+err.Error())
			return
		}
		e.policies = vaultPolicyNames(ps)
	}
	if raw, ok := req.body["metadata"].(map[string]any); ok {
		e.metadata = map[string]string{}
		for k, val := range raw {
			e.metadata[k] = fmt.Sprint(val)
		}
	}
	if name, ok := req.body["name"].(string); ok && name != "" && name != e.name {
		for _, o := range v.entities {
			if o.name == name {
				vaultError(w, http.StatusBadRequest, "entity name is already in use")
				return
			}
		}
		e.name = name
	}
	e.updated = time.Now().UTC()
	w.WriteHeader(http.StatusNoContent)
}

// kvData serves <mount>/data/<path>.
func (v *Vault) kvData(w http.ResponseWriter, req *vaultRequest, mount, path string) {
	if !vaultAllow(w, req, "GET", "POST") {
		return
	}
	if path == "" {
		vaultError(w, http.StatusNotFound)
		return
	}
	s := v.kv[mount][path]
	if req.method == "GET" {
		if s == nil {
			vaultError(w, http.StatusNotFound)
			return
		}
		n := s.current
		if q := req.query["version"]; len(q) > 0 && q[0] != "" {
			if x, err := strconv.Atoi(q[0]); err == nil && x > 0 {
				n = x
			}
		}
		ver := s.versions[n]
		if ver == nil {
			vaultError(w, http.StatusNotFound)
			return
		}
		vaultRespond(w, http.StatusOK, map[string]any{
			"data": ver.data,
			"metadata": map[string]any{
				"version": n, "created_time": ver.created.Format(time.RFC3339Nano), "deletion_time": "",
				"destroyed": false, "custom_metadata": s.customMetadata,
			},
		}, nil)
		return
	}
	data, ok := req.body["data"].(map[string]any)
	if !ok {
		vaultError(w, http.StatusBadRequest, "no data provided")
		return
	}
	current := 0
	casRequired := false
	if s != nil {
		current, casRequired = s.current, s.casRequired
	}
	opts, _ := req.body["options"].(map[string]any)
	if raw, ok := opts["cas"]; ok {
		cas, err := vaultInt(raw)
		if err != nil {
			vaultError(w, http.StatusBadRequest, "error parsing check-and-set parameter")
			return
		}
		if cas != current {
			vaultError(w, http.StatusBadRequest, "check-and-set parameter did not match the current version")
			return
		}
	} else if casRequired {
		vaultError(w, http.StatusBadRequest, "check-and-set parameter required for this call")
		return
	}
	n := v.kvPut(mount, path, data)
	s = v.kv[mount][path]
	vaultRespond(w, http.StatusOK, map[string]any{
		"version": n, "created_time": s.versions[n].created.Format(time.RFC3339Nano), "deletion_time": "",
		"destroyed": false, "custom_metadata": s.customMetadata,
	}, nil)
}

// kvPut stores a new version; v.mu is held.
func (v *Vault) kvPut(mount, path string, data map[string]any) int {
	now := time.Now().UTC()
	m := v.kv[mount]
	if m == nil {
		m = map[string]*vaultKVSecret{}
		v.kv[mount] = m
	}
	s := m[path]
	if s == nil {
		s = &vaultKVSecret{versions: map[int]*vaultKVVersion{}, created: now}
		m[path] = s
	}
	s.current++
	if s.oldest == 0 {
		s.oldest = s.current
	}
	s.versions[s.current] = &vaultKVVersion{data: data, created: now}
	s.updated = now
	return s.current
}

// kvMetadata serves <mount>/metadata/<path>.
func (v *Vault) kvMetadata(w http.ResponseWriter, req *vaultRequest, mount, path string) {
	if !vaultAllow(w, req, "GET", "POST", "LIST") {
		return
	}
	switch req.method {
	case "LIST":
		prefix := path
		if prefix != "" && !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		seen := map[string]bool{}
		for p, s := range v.kv[mount] {
			if s.current == 0 || !strings.HasPrefix(p, prefix) {
				continue
			}
			rest := strings.TrimPrefix(p, prefix)
			if i := strings.Index(rest, "/"); i >= 0 {
				rest = rest[:i+1]
			}
			seen[rest] = true
		}
		keys := make([]string, 0, len(seen))
		for k := range seen {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) == 0 {
			vaultError(w, http.StatusNotFound)
			return
		}
		vaultRespond(w, http.StatusOK, map[string]any{"keys": keys}, nil)
	case "GET":
		s := v.kv[mount][path]
		if s == nil || path == "" {
			vaultError(w, http.StatusNotFound)
			return
		}
		versions := map[string]any{}
		for n, ver := range s.versions {
			versions[strconv.Itoa(n)] = map[string]any{
				"created_time": ver.created.Format(time.RFC3339Nano), "deletion_time": "", "destroyed": false,
			}
		}
		vaultRespond(w, http.StatusOK, map[string]any{
			"versions": versions, "current_version": s.current, "oldest_version": s.oldest,
			"created_time": s.created.Format(time.RFC3339Nano), "updated_time": s.updated.Format(time.RFC3339Nano),
			"max_versions": s.maxVersions, "cas_required": s.casRequired, "delete_version_after": "0s",
			"custom_metadata": s.customMetadata, "current_metadata_version": s.metadataVersion, "metadata_cas_required": false,
		}, nil)
	case "POST":
		if path == "" {
			vaultError(w, http.StatusBadRequest, "missing path")
			return
		}
		var custom map[string]string
		if raw, ok := req.body["custom_metadata"]; ok {
			m, ok := raw.(map[string]any)
			if !ok {
				vaultError(w, http.StatusBadRequest, "custom_metadata validation failed: expected a map of strings")
				return
			}
			custom = map[string]string{}
			for k, val := range m {
				s, ok := val.(string)
				if !ok {
					vaultError(w, http.StatusBadRequest, fmt.Sprintf("custom_metadata validation failed: value for key %q is not a string", k))
					return
				}
				if len(k) > 128 || len(s) > 512 {
					vaultError(w, http.StatusBadRequest, fmt.Sprintf("custom_metadata validation failed: key %q or its value is too long", k))
					return
				}
				custom[k] = s
			}
		}
		now := time.Now().UTC()
		s := v.kv[mount][path]
		if s == nil {
			s = &vaultKVSecret{versions: map[int]*vaultKVVersion{}, created: now}
			v.kv[mount][path] = s
		}
		s.updated = now
		s.metadataVersion++
		if custom != nil {
			s.customMetadata = custom
		}
		if raw, ok := req.body["max_versions"]; ok {
			if n, err := vaultInt(raw); err == nil {
				s.maxVersions = n
			}
		}
		if raw, ok := req.body["cas_required"]; ok {
			if b, err := vaultBool(raw); err == nil {
				s.casRequired = b
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// vaultAllow answers 405 unless req.method is one of methods.
func vaultAllow(w http.ResponseWriter, req *vaultRequest, methods ...string) bool {
	for _, m := range methods {
		if req.method == m {
			return true
		}
	}
	vaultError(w, http.StatusMethodNotAllowed, "1 error occurred:\n\t* unsupported operation\n\n")
	return false
}

func vaultRespond(w http.ResponseWriter, status int, data map[string]any, warnings []string) {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(map[string]any{
		"request_id": vaultUUID(), "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": data, "wrap_info": nil, "warnings": warnings, "auth": nil,
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// vaultMultiError formats msg the way Vault's go-multierror wrapping shows a single error,
// as it does for errors a handler returns as a Go error rather than an error response.
func vaultMultiError(msg string) string {
	return "1 error occurred:\n\t* " + msg + "\n\n"
}

// vaultError writes Vault's error body: {"errors":[...]}, an empty list when msgs is empty.
func vaultError(w http.ResponseWriter, status int, msgs ...string) {
	if msgs == nil {
		msgs = []string{}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": msgs})
}

func vaultInt(raw any) (int, error) {
	switch x := raw.(type) {
	case json.Number:
		n, err := x.Int64()
		return int(n), err
	case string:
		return strconv.Atoi(x)
	case float64:
		return int(x), nil
	}
	return 0, fmt.Errorf("expected an integer, got %T", raw)
}

func vaultBool(raw any) (bool, error) {
	switch x := raw.(type) {
	case bool:
		return x, nil
	case string:
		return strconv.ParseBool(x)
	case json.Number:
		return x.String() != "0", nil
	}
	return false, fmt.Errorf("expected a bool, got %T", raw)
}

func vaultStringList(raw any) ([]string, error) {
	switch x := raw.(type) {
	case string:
		if x == "" {
			return []string{}, nil
		}
		return strings.Split(x, ","), nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("expected strings, got %T", e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("expected a list of strings, got %T", raw)
}

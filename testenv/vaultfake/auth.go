package vaultfake

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
)

// Sandbox credentials of firebreak's own Vault logins. The secret id and the Kubernetes
// service-account token contain Canary: they are secret material.
const (
	AppRoleID       = "firebreak-role-0b1c"
	AppRoleSecretID = "approle-secret-" + fakebase.Canary + "-9f8e"
	K8sRole         = "firebreak"
	K8sJWT          = "eyJhbGciOiJSUzI1NiJ9.k8s-" + fakebase.Canary + ".sig"
	// TOTPMethodID is the id of the seeded TOTP MFA login method; every developer's
	// entity holds a TOTP secret for it.
	TOTPMethodID = "5f0e4d1c-6b7a-4c3d-9e8f-totp00000001"
)

// vaultExtra is the sandbox state for firebreak's own logins, leases and TOTP secrets.
type vaultExtra struct {
	init     bool
	logins   map[string]vaultLogin // "approle" or "kubernetes" → configured login
	leases   map[string]bool       // lease id → revoked
	totp     map[string]bool       // entity id → holds a TOTP secret for TOTPMethodID
	renewals int
}

type vaultLogin struct {
	user, secret string // role_id and secret_id, or role and jwt
	ttl          time.Duration
	policies     []string
}

// extra returns the lazily seeded extra state; v.mu is held. Each developer has one dynamic
// database and one dynamic AWS lease, and a TOTP secret.
func (v *Vault) extraState() *vaultExtra {
	x := &v.extra
	if x.init {
		return x
	}
	x.init = true
	x.logins = map[string]vaultLogin{}
	x.leases = map[string]bool{}
	x.totp = map[string]bool{}
	for id, e := range v.entities {
		x.leases["database/creds/dev-"+e.name+"/lease-"+e.name+"-db1"] = false
		x.leases["aws/creds/dev-"+e.name+"/lease-"+e.name+"-aws1"] = false
		x.totp[id] = true
	}
	return x
}

// EnableAppRole lets the AppRole roleID with secretID log in at auth/approle/login, getting a
// renewable token with ttl and policies.
func (v *Vault) EnableAppRole(roleID, secretID string, ttl time.Duration, policies ...string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.extraState().logins["approle"] = vaultLogin{user: roleID, secret: secretID, ttl: ttl, policies: policies}
}

// EnableKubernetes lets a pod with service-account token jwt log in as role at
// auth/kubernetes/login, getting a renewable token with ttl and policies.
func (v *Vault) EnableKubernetes(role, jwt string, ttl time.Duration, policies ...string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.extraState().logins["kubernetes"] = vaultLogin{user: role, secret: jwt, ttl: ttl, policies: policies}
}

// PutPolicy adds or replaces an ACL policy.
func (v *Vault) PutPolicy(name, hcl string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.policies[name] = hcl
}

// Renewals counts successful auth/token/renew-self calls.
func (v *Vault) Renewals() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.extraState().renewals
}

// Leases lists the ids of the unrevoked leases under prefix, sorted.
func (v *Vault) Leases(prefix string) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for id, revoked := range v.extraState().leases {
		if !revoked && strings.HasPrefix(id, prefix) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// HasTOTPSecret reports whether the named developer's entity still holds a TOTP secret.
func (v *Vault) HasTOTPSecret(name string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.extraState().totp[vaultEntityID(name)]
}

// vaultUnauthenticated reports whether path is served without a token (the login endpoints).
func vaultUnauthenticated(path string) bool {
	return path == "auth/approle/login" || path == "auth/kubernetes/login" || (strings.HasPrefix(path, "auth/") && strings.Contains(path, "/login/"))
}

// routeExtra serves the endpoints of this file; it reports false when p is not one of them.
// v.mu is held.
func (v *Vault) routeExtra(w http.ResponseWriter, req *vaultRequest) bool {
	p := req.path
	switch {
	case p == "auth/approle/login":
		v.login(w, req, "approle", "role_id", "secret_id")
	case p == "auth/kubernetes/login":
		v.login(w, req, "kubernetes", "role", "jwt")
	case p == "auth/token/renew-self":
		v.renewSelf(w, req)
	case p == "sys/capabilities-self":
		v.capabilitiesSelf(w, req)
	case strings.HasPrefix(p, "sys/leases/revoke-prefix/"):
		v.revokePrefix(w, req, strings.TrimPrefix(p, "sys/leases/revoke-prefix/"))
	case p == "identity/mfa/method/totp/admin-destroy":
		v.totpDestroy(w, req)
	default:
		return false
	}
	return true
}

func (v *Vault) login(w http.ResponseWriter, req *vaultRequest, method, userField, secretField string) {
	if !vaultAllow(w, req, "POST") {
		return
	}
	x := v.extraState()
	l, ok := x.logins[method]
	user, _ := req.body[userField].(string)
	secret, _ := req.body[secretField].(string)
	if !ok {
		vaultError(w, http.StatusNotFound, "no handler for route \"auth/"+method+"/login\". route entry not found.")
		return
	}
	if user != l.user || secret != l.secret {
		// Vault says "invalid role or secret ID" (AppRole) or "permission denied" (Kubernetes).
		msg := "invalid role or secret ID"
		if method == "kubernetes" {
			msg = "permission denied"
		}
		vaultError(w, http.StatusBadRequest, msg)
		return
	}
	suffix := method + "-" + time.Now().Format("150405.000000000")
	tok := &vaultToken{
		id: "hvs.login-" + fakebase.Canary + "-" + suffix, accessor: "acc-" + suffix, displayName: method + "-" + user,
		path: "auth/" + method + "/login", policies: append([]string{"default"}, l.policies...),
		created: time.Now(), ttl: l.ttl,
	}
	v.tokens[tok.id] = tok
	v.accessors[tok.accessor] = tok
	vaultRespondAuth(w, tok, true)
}

func vaultRespondAuth(w http.ResponseWriter, t *vaultToken, renewable bool) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"request_id": vaultUUID(), "lease_id": "", "renewable": false, "lease_duration": 0, "data": nil, "warnings": nil,
		"auth": map[string]any{
			"client_token": t.id, "accessor": t.accessor, "policies": t.policies, "token_policies": t.policies,
			"lease_duration": int64(t.ttl.Seconds()), "renewable": renewable, "entity_id": t.entityID,
			"token_type": tokenType(t), "orphan": true,
		},
	})
}

func (v *Vault) renewSelf(w http.ResponseWriter, req *vaultRequest) {
	if !vaultAllow(w, req, "POST") {
		return
	}
	if req.token == nil {
		vaultError(w, http.StatusBadRequest, "lease is not renewable")
		return
	}
	req.token.created = time.Now()
	v.extraState().renewals++
	vaultRespondAuth(w, req.token, true)
}

// capabilitiesSelf answers sys/capabilities-self from the ACL policies of the calling token
// and its entity, as Vault does: "root" for the root token, "deny" when nothing is granted.
func (v *Vault) capabilitiesSelf(w http.ResponseWriter, req *vaultRequest) {
	if !vaultAllow(w, req, "POST") {
		return
	}
	var paths []string
	if s, ok := req.body["path"].(string); ok && s != "" {
		paths = append(paths, s)
	}
	if l, err := vaultStringList(req.body["paths"]); err == nil {
		paths = append(paths, l...)
	}
	if len(paths) == 0 {
		vaultError(w, http.StatusBadRequest, "missing paths")
		return
	}
	if req.token == nil {
		data := map[string]any{}
		var all []string
		for _, p := range paths {
			data[p] = []string{"root"}
			all = append(all, "root")
		}
		data["capabilities"] = all
		vaultRespond(w, http.StatusOK, data, nil)
		return
	}
	vaultRespond(w, http.StatusOK, v.capabilitiesOf(req.token, paths), nil)
}

// revokePrefix revokes every lease under prefix; no lease under it is success, as in Vault.
func (v *Vault) revokePrefix(w http.ResponseWriter, req *vaultRequest, prefix string) {
	if !vaultAllow(w, req, "POST") {
		return
	}
	if prefix == "" {
		vaultError(w, http.StatusBadRequest, "prefix is required")
		return
	}
	for id := range v.extraState().leases {
		if strings.HasPrefix(id, prefix) {
			v.extra.leases[id] = true
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// totpDestroy destroys an entity's TOTP secret for a method; an entity without one is
// success, as in Vault.
func (v *Vault) totpDestroy(w http.ResponseWriter, req *vaultRequest) {
	if !vaultAllow(w, req, "POST") {
		return
	}
	entityID, _ := req.body["entity_id"].(string)
	methodID, _ := req.body["method_id"].(string)
	switch {
	case methodID == "":
		vaultError(w, http.StatusBadRequest, "missing method ID")
		return
	case methodID != TOTPMethodID:
		vaultError(w, http.StatusBadRequest, "invalid method ID")
		return
	case entityID == "":
		vaultError(w, http.StatusBadRequest, "missing entity ID")
		return
	case v.entities[entityID] == nil:
		vaultError(w, http.StatusBadRequest, "invalid entity ID")
		return
	}
	v.extraState().totp[entityID] = false
	w.WriteHeader(http.StatusNoContent)
}

package vaultfake

import (
	"net/http"
	"slices"
)

// resultantACL answers sys/internal/ui/resultant-acl as OpenBao does: the calling token's
// policies, its entity's and its groups', identity templates rendered for the entity, merged
// into exact_paths and glob_paths (by prefix, without the trailing "*") with their
// capabilities; rules with a "+" segment are left out, as OpenBao leaves them out; the root
// token is {"root": true}. v.mu is held.
func (v *Vault) resultantACL(w http.ResponseWriter, req *vaultRequest) {
	if !vaultAllow(w, req, "GET") {
		return
	}
	if req.token == nil {
		vaultRespond(w, http.StatusOK, map[string]any{"root": true}, nil)
		return
	}
	acl := v.tokenACL(req.token)
	exact, glob := acl.ResultantRules()
	if acl.Root() {
		vaultRespond(w, http.StatusOK, map[string]any{"root": true}, nil)
		return
	}
	shape := func(m map[string][]string) map[string]any {
		out := map[string]any{}
		for p, caps := range m {
			out[p] = map[string]any{"capabilities": caps}
		}
		return out
	}
	vaultRespond(w, http.StatusOK, map[string]any{"root": false, "exact_paths": shape(exact), "glob_paths": shape(glob)}, nil)
}

// identityPolicies lists the policies a token bound to the entity gets from the entity and
// its groups, as Vault reports them (identity_policies); v.mu is held.
func (v *Vault) identityPolicies(entityID string) []string {
	e := v.entities[entityID]
	if e == nil {
		return nil
	}
	names := append([]string(nil), e.policies...)
	for _, g := range v.groupsOf(e.id) {
		names = append(names, g.policies...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

package vault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/firebreak-dev/firebreak/activities/preflight"
)

// PolicyNeed is a Vault path firebreak's token must reach with capabilities. Path patterns
// of deploy/vault-policy.hcl are probed at a concrete path they cover (a test keeps this
// table and the policy file in step).
type PolicyNeed struct {
	Pattern      string   // as written in deploy/vault-policy.hcl
	Probe        string   // a concrete path the pattern covers
	Capabilities []string // sorted
}

// PolicyNeeds are the paths of deploy/vault-policy.hcl, which Preflight checks the token for.
var PolicyNeeds = []PolicyNeed{
	{"auth/token/accessors", "auth/token/accessors", []string{"list", "sudo"}},
	{"auth/token/lookup-accessor", "auth/token/lookup-accessor", []string{"update"}},
	{"auth/token/revoke-accessor", "auth/token/revoke-accessor", []string{"update"}},
	{"identity/entity/id/*", "identity/entity/id/firebreak-doctor", []string{"read", "update"}},
	{"identity/entity/name/*", "identity/entity/name/firebreak-doctor", []string{"read"}},
	{"secret/data/*", "secret/data/shared/firebreak-doctor", []string{"create", "read", "update"}},
	{"secret/metadata/*", "secret/metadata/shared/firebreak-doctor", []string{"list", "read", "update"}},
	{"sys/auth", "sys/auth", []string{"read"}},
	{"identity/lookup/entity", "identity/lookup/entity", []string{"update"}},
	{"sys/mounts", "sys/mounts", []string{"read"}},
	{"sys/capabilities-accessor", "sys/capabilities-accessor", []string{"update"}},
	{"auth/token/create/firebreak-probe", "auth/token/create/firebreak-probe", []string{"update"}},
	{"identity/entity-alias", "identity/entity-alias", []string{"update"}},
	{"identity/entity-alias/id/*", "identity/entity-alias/id/firebreak-doctor", []string{"delete"}},
	{"auth/+/users/*", "auth/userpass/users/firebreak-doctor", []string{"read"}},
	{"sys/policies/acl/*", "sys/policies/acl/default", []string{"read"}},
	{"sys/policies/acl/firebreak-next-login-*", "sys/policies/acl/firebreak-next-login-doctor", []string{"delete", "update"}},
	{"secret/metadata", "secret/metadata", []string{"list"}},
	{"sys/leases/revoke-prefix/*", "sys/leases/revoke-prefix/database/creds/firebreak-doctor", []string{"sudo", "update"}},
	{"identity/mfa/method/totp/admin-destroy", "identity/mfa/method/totp/admin-destroy", []string{"update"}},
	{"database/static-roles/*", "database/static-roles/firebreak-doctor", []string{"read"}},
	{"database/rotate-role/*", "database/rotate-role/firebreak-doctor", []string{"update"}},
	{"database/static-creds/*", "database/static-creds/firebreak-doctor", []string{"read"}},
}

// Preflight checks what firebreak needs of Vault with c, logged in by method: the token
// (lookup-self), its capabilities on every path of deploy/vault-policy.hcl, the probe token
// role, and that the Vault identity of each directory entry that names one exists.
func Preflight(ctx context.Context, c *api.Client, method string, directory []DirectoryEntry) []preflight.Result {
	out := []preflight.Result{}
	self, err := c.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return append(out, preflight.Fail("vault", "token", "token lookup-self at %s (login %s): %s", c.Address(), method, DescribeError(err)))
	}
	name, _ := self.Data["display_name"].(string)
	pols, _ := self.TokenPolicies()
	ttl, _ := self.TokenTTL()
	ttlText := "no expiry"
	if ttl > 0 {
		ttlText = "ttl " + ttl.String()
	}
	out = append(out, preflight.Result{Integration: "vault", Check: "token", Status: preflight.OK, Detail: fmt.Sprintf("%s via %s login as %q, policies %s, %s", c.Address(), method, name, strings.Join(pols, ","), ttlText)})
	var missing []string
	for _, need := range PolicyNeeds {
		caps, err := c.Sys().CapabilitiesSelfWithContext(ctx, need.Probe)
		if err != nil {
			return append(out, preflight.Fail("vault", "capabilities", "sys/capabilities-self for %s: %s", need.Probe, DescribeError(err)))
		}
		if slices.Contains(caps, "root") {
			continue
		}
		var lack []string
		for _, want := range need.Capabilities {
			if !slices.Contains(caps, want) {
				lack = append(lack, want)
			}
		}
		if len(lack) > 0 {
			missing = append(missing, fmt.Sprintf("%s on %s (has %s)", strings.Join(lack, ","), need.Pattern, strings.Join(caps, ",")))
		}
	}
	if len(missing) > 0 {
		return append(out, preflight.Fail("vault", "capabilities", "the token lacks what deploy/vault-policy.hcl grants: %s", strings.Join(missing, "; ")))
	}
	out = append(out, preflight.Result{Integration: "vault", Check: "capabilities", Status: preflight.OK, Detail: fmt.Sprintf("all %d paths of deploy/vault-policy.hcl permitted", len(PolicyNeeds))})
	return append(out, preflightDirectory(ctx, c, directory)...)
}

// preflightDirectory checks the probe role and that every directory entry's Vault identity
// exists: an alias on a mounted auth method, an entity id Vault knows.
func preflightDirectory(ctx context.Context, c *api.Client, directory []DirectoryEntry) []preflight.Result {
	var out []preflight.Result
	role, err := c.Logical().ReadWithContext(ctx, "auth/token/roles/"+DefaultProbeRole)
	switch {
	case err != nil:
		out = append(out, preflight.Fail("vault", "probe role", "reading auth/token/roles/%s: %s", DefaultProbeRole, DescribeError(err)))
	case role == nil:
		out = append(out, preflight.Fail("vault", "probe role", "no token role %s: inventories fall back to firebreak's own policy evaluation and verifications cannot probe a new login (docs/configuration.md shows how to create it)", DefaultProbeRole))
	default:
		out = append(out, preflight.Result{Integration: "vault", Check: "probe role", Status: preflight.OK, Detail: "token role " + DefaultProbeRole + " exists"})
	}
	acts := &Activities{Client: c.Logical()}
	var bad []string
	checked := 0
	for _, p := range directory {
		if p.Vault == nil {
			continue
		}
		checked++
		entity, err := acts.FindEntity(ctx, p.Subject, p.Vault)
		switch {
		case err != nil:
			bad = append(bad, p.Subject+": "+err.Error())
		case entity == "":
			bad = append(bad, p.Subject+": no entity found (they may not have logged in yet)")
		}
	}
	if len(bad) > 0 {
		return append(out, preflight.Fail("vault", "directory", "%s", strings.Join(bad, "; ")))
	}
	if checked > 0 {
		out = append(out, preflight.Result{Integration: "vault", Check: "directory", Status: preflight.OK, Detail: fmt.Sprintf("all %d directory entries with vault: found in Vault", checked)})
	}
	return out
}

// DescribeError is Vault's answer in err ("Vault answered 403 permission denied"), else err.
func DescribeError(err error) string {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return fmt.Sprintf("Vault answered %d %s", re.StatusCode, strings.Join(re.Errors, "; "))
	}
	return err.Error()
}

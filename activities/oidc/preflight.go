package oidc

import (
	"context"

	"github.com/firebreak-dev/firebreak/activities/preflight"
)

// Preflight checks the identity provider the activities revoke tokens at: its discovery
// document, read as the activities read it, names revocation and introspection endpoints. Not
// configured (no issuer) is not a failure: the oidc actions are off.
func Preflight(ctx context.Context, issuer, clientID, clientSecret string) []preflight.Result {
	if issuer == "" {
		return []preflight.Result{{Integration: "oidc", Check: "discovery", Status: preflight.Skipped, Detail: "OIDC_ISSUER not set: the oidc.* actions are off"}}
	}
	if clientID == "" || clientSecret == "" {
		return []preflight.Result{preflight.Fail("oidc", "client", "OIDC_ISSUER is set but OIDC_CLIENT_ID or OIDC_CLIENT_SECRET is not")}
	}
	doc, err := (&Activities{Issuer: issuer}).discover(ctx)
	if err != nil {
		return []preflight.Result{preflight.Fail("oidc", "discovery", "%v", err)}
	}
	if doc.RevocationEndpoint == "" || doc.IntrospectionEndpoint == "" {
		return []preflight.Result{preflight.Fail("oidc", "discovery", "%s names no revocation_endpoint (RFC 7009) or introspection_endpoint (RFC 7662)", issuer)}
	}
	return []preflight.Result{{Integration: "oidc", Check: "discovery", Status: preflight.OK, Detail: "revocation and introspection endpoints found at " + issuer}}
}

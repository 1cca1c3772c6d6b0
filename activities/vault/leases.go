package vault

import (
	"context"
	"strings"

	"go.temporal.io/sdk/activity"
)

// RevokeLeasePrefixInput names the lease prefix to revoke, e.g. "database/creds/dev-alice/"
// for every dynamic database credential issued by that role.
type RevokeLeasePrefixInput struct {
	Prefix string `json:"prefix"`
}

// RevokeLeasePrefixResult says which prefix was revoked.
type RevokeLeasePrefixResult struct {
	Prefix  string `json:"prefix"`
	Revoked bool   `json:"revoked"`
}

// RevokeLeasePrefix revokes every lease under a prefix (sys/leases/revoke-prefix, which needs
// sudo), so dynamic database and AWS credentials a secrets engine issued stop working. Vault
// revokes synchronously and answers success when nothing is left under the prefix, so a retry
// or a second run is harmless. Prefixes under auth/ are refused: tokens are revoked by
// accessor (RevokeTokens), never wholesale.
func (a *Activities) RevokeLeasePrefix(ctx context.Context, in RevokeLeasePrefixInput) (RevokeLeasePrefixResult, error) {
	p := strings.TrimPrefix(in.Prefix, "/")
	switch {
	case p == "" || !strings.Contains(strings.TrimSuffix(p, "/"), "/"):
		return RevokeLeasePrefixResult{}, invalidInput("vault: lease prefix %q is too broad; expected a mount and a role, e.g. %q", in.Prefix, "database/creds/dev-alice/")
	case strings.HasPrefix(p, "auth/") || strings.HasPrefix(p, "sys/"):
		return RevokeLeasePrefixResult{}, invalidInput("vault: lease prefix %q is under %s; expected a secrets engine's prefix (revoke tokens by accessor instead)", in.Prefix, p[:strings.Index(p, "/")+1])
	case strings.Contains(p, "..") || strings.ContainsAny(p, "?#"):
		return RevokeLeasePrefixResult{}, invalidInput("vault: lease prefix %q holds '..', '?' or '#'; expected a plain path", in.Prefix)
	}
	path := "sys/leases/revoke-prefix/" + p
	if _, err := a.Client.WriteWithContext(ctx, path, nil); err != nil {
		return RevokeLeasePrefixResult{}, classify(err, "revoke leases under "+p, path)
	}
	activity.GetLogger(ctx).Info("vault leases revoked", "prefix", p)
	return RevokeLeasePrefixResult{Prefix: p, Revoked: true}, nil
}

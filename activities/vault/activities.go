// Package vault holds firebreak's Vault activities: inventory a developer's Vault footprint
// (entity, tokens, readable shared secrets), revoke tokens by accessor, disable and re-enable
// the identity entity, rotate KV v2 secrets with check-and-set, and verify the revocation.
//
// Activities talk to Vault only through the narrow Logical interface (satisfied by
// *api.Logical from github.com/hashicorp/vault/api) and use only Vault's public HTTP API, so
// they work the same against Vault, OpenBao and the testenv sandbox. Results carry references
// (accessors, entity ids, secret paths and versions), never token ids or secret values.
package vault

import (
	"context"
	"time"

	"github.com/hashicorp/vault/api"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
)

// Logical is the part of the Vault client the activities use; *api.Logical satisfies it.
type Logical interface {
	ReadWithContext(ctx context.Context, path string) (*api.Secret, error)
	ReadWithDataWithContext(ctx context.Context, path string, data map[string][]string) (*api.Secret, error)
	WriteWithContext(ctx context.Context, path string, data map[string]interface{}) (*api.Secret, error)
	ListWithContext(ctx context.Context, path string) (*api.Secret, error)
	DeleteWithContext(ctx context.Context, path string) (*api.Secret, error)
}

var _ Logical = (*api.Logical)(nil)

// Activities are the Vault activities. Register them with Register; workflows call them
// through a nil *Activities (workflow.ExecuteActivity(ctx, a.RevokeTokens, in)).
type Activities struct {
	// Client is the Vault client, normally (*api.Client).Logical() with a token that may read
	// identity entities, list and revoke token accessors, read ACL policies and read and write
	// the KV v2 mounts being rotated.
	Client Logical
	// NewSecret returns a fresh value for field of the secret at path ("mount/path") in the
	// secret's format (firebreak-rotate-format). nil means format.Generate. Drills inject one
	// whose output contains the canary.
	NewSecret func(path, field string, format Format) (string, error)
	// Services are the configured HTTP services that rotate secrets marked
	// firebreak-rotate: service:NAME/PATH (httpreq.Rotator); nil means none is configured.
	Services SecretServices
	// ProbeRole is the token role probe tokens are minted with to ask Vault what a person's
	// next login could read; "" means DefaultProbeRole. Without it (or the right to use it)
	// inventories fall back to firebreak's own policy evaluation and say so.
	ProbeRole string
	// TokenClient returns a client like Client that sends token instead of its own: how
	// firebreak reads a probe token's resultant ACL (TokenClientOf builds one from an
	// *api.Client). nil: the next login cannot be captured before the first cut, and the
	// inventory evaluates the login's policies itself after it, saying so.
	TokenClient func(token string) Logical
	// Patience bounds how long, from when an inventory was first scheduled, Temporal retries
	// it while Vault is unreachable or failing; after that (and always on the retry policy's
	// last attempt) it reports Vault unavailable instead of failing. 0: the last attempt only.
	Patience time.Duration
	// LookupConcurrency is how many token accessors an inventory looks up at a time; 0 means
	// DefaultLookupConcurrency.
	LookupConcurrency int
}

// Register registers every method of a as an activity named ActivityPrefix + method name
// (e.g. "vault.Inventory"). r is usually a worker.Worker (any worker.Registry); the activity
// half of it is all Register needs, which lets tests pass a TestActivityEnvironment.
func Register(r worker.ActivityRegistry, a *Activities) {
	r.RegisterActivityWithOptions(a, activity.RegisterOptions{Name: ActivityPrefix})
}

// TokenClientOf returns, for Activities.TokenClient, clients cloned from c (same address,
// TLS, transport and headers) that send token.
func TokenClientOf(c *api.Client) func(token string) Logical {
	return func(token string) Logical {
		cc, err := c.Clone()
		if err != nil {
			return failingLogical{err}
		}
		cc.SetHeaders(c.Headers()) // the namespace, if any
		cc.SetToken(token)
		return cc.Logical()
	}
}

// failingLogical answers every request with err.
type failingLogical struct{ err error }

func (f failingLogical) ReadWithContext(context.Context, string) (*api.Secret, error) {
	return nil, f.err
}
func (f failingLogical) ReadWithDataWithContext(context.Context, string, map[string][]string) (*api.Secret, error) {
	return nil, f.err
}
func (f failingLogical) WriteWithContext(context.Context, string, map[string]interface{}) (*api.Secret, error) {
	return nil, f.err
}
func (f failingLogical) ListWithContext(context.Context, string) (*api.Secret, error) {
	return nil, f.err
}
func (f failingLogical) DeleteWithContext(context.Context, string) (*api.Secret, error) {
	return nil, f.err
}

func (a *Activities) newSecret(path, field string, format Format) (string, error) {
	if a.NewSecret != nil {
		return a.NewSecret(path, field, format)
	}
	return format.Generate()
}

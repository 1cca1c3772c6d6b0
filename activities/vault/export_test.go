package vault

import "context"

// ListAccessors exposes listAccessors to the external tests.
func ListAccessors(ctx context.Context, a *Activities) ([]string, error) { return a.listAccessors(ctx) }

package vault

import (
	"context"
	"fmt"
	"net/http"

	"go.temporal.io/sdk/temporal"
)

// KVReader reads one field of a Vault KV v2 secret for another integration that needs a
// credential by reference (oidc.TokenReader): the value goes to the caller only, never into a
// result or an error.
type KVReader struct {
	// Client is the Vault client; its token needs read on <mount>/data/<path>.
	Client Logical
}

// ReadKVField returns the string value of field in the current version of the KV v2 secret at
// mount/path. A missing secret or field is a non-retryable ErrSecretNotFound; errors name the
// path and field, never a value.
func (k KVReader) ReadKVField(ctx context.Context, mount, path, field string) (string, error) {
	if err := validSegment("mount", mount); err != nil {
		return "", err
	}
	if err := validPath("path", path); err != nil {
		return "", err
	}
	if field == "" {
		return "", invalidInput("vault: field is empty; expected the name of the field holding the value, e.g. %q", "token")
	}
	p := mount + "/data/" + path
	s, err := k.Client.ReadWithContext(ctx, p)
	if code, _, ok := vaultStatusError(err); ok && code == http.StatusNotFound {
		s, err = nil, nil
	}
	if err != nil {
		return "", classify(err, "read secret", p)
	}
	if s == nil || s.Data == nil {
		return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("vault: no KV v2 secret at %s; expected one holding field %q", p, field), ErrSecretNotFound, nil)
	}
	data := dataMap(s.Data, "data")
	v, ok := data[field]
	if !ok {
		return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("vault: the secret at %s has no field %q (it has %d fields)", p, field, len(data)), ErrSecretNotFound, nil)
	}
	str, ok := v.(string)
	if !ok {
		return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("vault: field %q of the secret at %s is a %T; expected a string", field, p, v), ErrInvalidRequest, nil)
	}
	return str, nil
}

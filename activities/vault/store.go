package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// KVStore writes secrets into Vault KV v2 for activities of other integrations that mint a
// secret and must store it without returning it (awsiam's RotateKey, through its
// SecretStore interface). Client is normally (*api.Client).Logical() with a token that may
// write the destination paths.
type KVStore struct {
	Client Logical
}

// PutSecret writes data as a new version of the KV v2 secret at path on mount and returns the
// version Vault reports. Errors name the mount and path, never the data; 403 and other 4xx
// answers are non-retryable (ErrPermissionDenied, ErrInvalidRequest).
func (s KVStore) PutSecret(ctx context.Context, mount, path string, data map[string]string) (int, error) {
	if err := validSegment("mount", mount); err != nil {
		return 0, err
	}
	if err := validPath("path", path); err != nil {
		return 0, err
	}
	path = strings.Trim(path, "/")
	values := make(map[string]any, len(data))
	for k, v := range data {
		values[k] = v
	}
	dataPath := mount + "/data/" + path
	sec, err := s.Client.WriteWithContext(ctx, dataPath, map[string]any{"data": values})
	if err != nil {
		return 0, classify(err, "write the new secret", dataPath)
	}
	if sec == nil || sec.Data == nil {
		return 0, fmt.Errorf("vault: write to %s answered no version; expected a KV v2 mount at %q (will retry)", dataPath, mount)
	}
	switch v := sec.Data["version"].(type) {
	case json.Number:
		n, err := v.Int64()
		if err == nil {
			return int(n), nil
		}
	case float64:
		return int(v), nil
	case int:
		return v, nil
	}
	return 0, fmt.Errorf("vault: write to %s answered version %v; expected an integer from a KV v2 mount (will retry)", dataPath, sec.Data["version"])
}

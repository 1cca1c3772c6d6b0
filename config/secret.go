package config

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Secret is a secret setting as written in the file: a reference (vault:MOUNT/PATH#FIELD or
// env:NAME), or — accepted with a warning, for chatops files older than firebreak.yaml — a
// literal. Its String and GoString never show a literal, so a Secret cannot leak through a
// %v or a log line.
type Secret string

// Kinds of Secret.
const (
	SecretEmpty   = "empty"
	SecretVault   = "vault"
	SecretEnv     = "env"
	SecretLiteral = "literal"
)

// secretRefPattern is what a reference looks like; the JSON Schema uses it too.
const secretRefPattern = `^(vault:[A-Za-z0-9_.-]+/[^#]+#[^#]+|env:[A-Za-z_][A-Za-z0-9_]*)$`

var secretRef = regexp.MustCompile(secretRefPattern)

// Kind says whether s is empty, a vault: or env: reference, or a literal.
func (s Secret) Kind() string {
	switch {
	case s == "":
		return SecretEmpty
	case strings.HasPrefix(string(s), "vault:"):
		return SecretVault
	case strings.HasPrefix(string(s), "env:"):
		return SecretEnv
	}
	return SecretLiteral
}

// String shows a reference as written and a literal as <redacted>.
func (s Secret) String() string {
	if s.Kind() == SecretLiteral {
		return "<redacted>"
	}
	return string(s)
}

// GoString is String, so %#v does not print a literal either.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// VaultRef is a parsed vault:MOUNT/PATH#FIELD reference to a KV version 2 secret.
type VaultRef struct {
	Mount, Path, Field string
}

func (r VaultRef) String() string { return "vault:" + r.Mount + "/" + r.Path + "#" + r.Field }

// ParseVaultRef parses vault:MOUNT/PATH#FIELD. MOUNT is the first path segment (the KV v2
// engine's mount, e.g. secret or kv); PATH is the secret's path under it, without data/.
func ParseVaultRef(s string) (VaultRef, error) {
	rest, ok := strings.CutPrefix(s, "vault:")
	if !ok {
		return VaultRef{}, fmt.Errorf("expected vault:MOUNT/PATH#FIELD, found %q", s)
	}
	loc, field, ok := strings.Cut(rest, "#")
	mount, path, ok2 := strings.Cut(loc, "/")
	if !ok || !ok2 || mount == "" || path == "" || field == "" || strings.Contains(field, "#") {
		return VaultRef{}, fmt.Errorf("expected vault:MOUNT/PATH#FIELD (a KV v2 secret, e.g. vault:secret/firebreak/slack#bot_token), found %q", s)
	}
	path = strings.Trim(path, "/")
	if strings.HasPrefix(path, "data/") {
		return VaultRef{}, fmt.Errorf("%q: write the KV v2 path without data/ (vault:%s/%s#%s)", s, mount, strings.TrimPrefix(path, "data/"), field)
	}
	return VaultRef{Mount: mount, Path: path, Field: field}, nil
}

// checkSecret returns why s is not a well-formed reference ("" when it is, or is empty) and
// whether it is a literal.
func checkSecret(s Secret) (problem string, literal bool) {
	switch s.Kind() {
	case SecretEmpty:
		return "", false
	case SecretLiteral:
		return "", true
	case SecretVault:
		if _, err := ParseVaultRef(string(s)); err != nil {
			return err.Error(), false
		}
	case SecretEnv:
		if !secretRef.MatchString(string(s)) {
			return fmt.Sprintf("expected env:NAME with NAME an environment variable name, found %q", string(s)), false
		}
	}
	return "", false
}

// VaultKV reads the current version of a KV v2 secret: mount "secret", path "firebreak/slack"
// reads secret/data/firebreak/slack. It returns ErrSecretNotFound when there is none.
type VaultKV func(ctx context.Context, mount, path string) (map[string]any, error)

// ErrSecretNotFound is what a VaultKV returns for a path that holds no secret.
var ErrSecretNotFound = errors.New("no secret at this path")

// ErrReference is wrapped by every error of Resolve.
var ErrReference = errors.New("secret reference")

// ResolveOptions are the sources Resolve reads references from.
type ResolveOptions struct {
	// Lookup reads environment variables: overrides of secret settings and env: references.
	// An empty value counts as unset.
	Lookup func(string) (string, bool)
	// Vault reads vault: references; nil when no Vault is configured (or must not be
	// contacted: drills), and then any vault: reference is an error.
	Vault VaultKV
	// SkipVault leaves vault: references unresolved instead of failing (drills and dev,
	// which must not reach production).
	SkipVault bool
}

// resolveRef turns one secret reference into its value.
func resolveRef(ctx context.Context, where string, s Secret, o ResolveOptions, cache map[string]map[string]any) (string, bool, error) {
	switch s.Kind() {
	case SecretEmpty:
		return "", false, nil
	case SecretLiteral:
		return string(s), true, nil
	case SecretEnv:
		name := strings.TrimPrefix(string(s), "env:")
		if v, ok := lookup(o.Lookup, name); ok {
			return v, true, nil
		}
		return "", false, fmt.Errorf("%w: %s: %s: the environment variable %s is not set", ErrReference, where, s, name)
	}
	ref, err := ParseVaultRef(string(s))
	if err != nil {
		return "", false, fmt.Errorf("%w: %s: %v", ErrReference, where, err)
	}
	if o.SkipVault {
		return "", false, nil
	}
	if o.Vault == nil {
		return "", false, fmt.Errorf("%w: %s: %s: no Vault to read it from (set vault.address or VAULT_ADDR, and a login)", ErrReference, where, ref)
	}
	key := ref.Mount + "/" + ref.Path
	data, ok := cache[key]
	if !ok {
		data, err = o.Vault(ctx, ref.Mount, ref.Path)
		if errors.Is(err, ErrSecretNotFound) {
			return "", false, fmt.Errorf("%w: %s: %s: Vault has no secret at %s/data/%s", ErrReference, where, ref, ref.Mount, ref.Path)
		}
		if err != nil {
			return "", false, fmt.Errorf("%w: %s: %s: reading %s/data/%s: %v", ErrReference, where, ref, ref.Mount, ref.Path, err)
		}
		cache[key] = data
	}
	raw, ok := data[ref.Field]
	if !ok {
		return "", false, fmt.Errorf("%w: %s: %s: the secret at %s/data/%s has no field %q (it has %s)", ErrReference, where, ref, ref.Mount, ref.Path, ref.Field, fieldNames(data))
	}
	v, ok := raw.(string)
	if !ok || v == "" {
		return "", false, fmt.Errorf("%w: %s: %s: expected a non-empty string in field %q, found %s", ErrReference, where, ref, ref.Field, describeKind(raw))
	}
	return v, true, nil
}

func fieldNames(m map[string]any) string {
	if len(m) == 0 {
		return "no fields"
	}
	return "fields " + strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}

func describeKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "an empty string"
	case bool:
		return "a boolean"
	case float64, int, int64:
		return "a number"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

func lookup(f func(string) (string, bool), name string) (string, bool) {
	if f == nil {
		return "", false
	}
	v, ok := f(name)
	return v, ok && v != ""
}

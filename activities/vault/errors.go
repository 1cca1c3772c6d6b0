package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hashicorp/vault/api"
	"go.temporal.io/sdk/temporal"
)

// Application error types of the non-retryable errors these activities return; workflows
// match them with errors.As(err, &appErr) and appErr.Type().
const (
	// ErrUnknownSubject: no Vault identity entity has the subject's name.
	ErrUnknownSubject = "UnknownSubject"
	// ErrUnknownEntity: no Vault identity entity has the given id.
	ErrUnknownEntity = "UnknownEntity"
	// ErrSecretNotFound: no KV v2 secret at the given mount and path.
	ErrSecretNotFound = "SecretNotFound"
	// ErrPermissionDenied: Vault answered 403 for firebreak's own token.
	ErrPermissionDenied = "PermissionDenied"
	// ErrInvalidRequest: Vault rejected the request as malformed (400, 404, 405).
	ErrInvalidRequest = "InvalidRequest"
	// ErrInvalidInput: the activity input itself is wrong; nothing was sent to Vault.
	ErrInvalidInput = "InvalidInput"
)

// classify turns an error from calling Vault (what: e.g. "revoke token accessor") on path
// into an activity error: non-retryable for 4xx answers that a retry cannot fix, plain
// (retryable) for 429, 5xx and transport failures.
func classify(err error, what, path string) error {
	var re *api.ResponseError
	if !errors.As(err, &re) {
		return fmt.Errorf("vault: %s at %s: %w (transport failure; will retry)", what, path, err)
	}
	detail := strings.Join(re.Errors, "; ")
	if detail == "" {
		detail = http.StatusText(re.StatusCode)
	}
	switch {
	case re.StatusCode == http.StatusForbidden:
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("vault: %s at %s was denied (403 %s): firebreak's Vault token needs a policy granting this on path %q", what, path, detail, path),
			ErrPermissionDenied, err)
	case re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500:
		return fmt.Errorf("vault: %s at %s: Vault answered %d (%s); will retry: %w", what, path, re.StatusCode, detail, err)
	default:
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("vault: %s at %s was rejected (%d %s)", what, path, re.StatusCode, detail),
			ErrInvalidRequest, err)
	}
}

// vaultStatusError reports the status code and messages of a Vault error response.
func vaultStatusError(err error) (int, string, bool) {
	var re *api.ResponseError
	if !errors.As(err, &re) {
		return 0, "", false
	}
	return re.StatusCode, strings.Join(re.Errors, "; "), true
}

func invalidInput(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrInvalidInput, nil)
}

// validSegment rejects values that would change which Vault path a request goes to.
func validSegment(field, v string) error {
	if v == "" {
		return invalidInput("vault: %s is empty; expected a name such as %q", field, "alice")
	}
	if strings.ContainsAny(v, "/?#") || v == "." || v == ".." {
		return invalidInput("vault: %s %q is not a single path segment; expected no '/', '?' or '#'", field, v)
	}
	return nil
}

// validPath rejects relative or empty KV paths.
func validPath(field, v string) error {
	if v == "" {
		return invalidInput("vault: %s is empty", field)
	}
	for _, seg := range strings.Split(v, "/") {
		if seg == "." || seg == ".." || strings.ContainsAny(seg, "?#") {
			return invalidInput("vault: %s %q is not a plain path; expected segments without '.', '..', '?' or '#'", field, v)
		}
	}
	return nil
}

// dataString returns m[key] as a string ("" when absent or not a string).
func dataString(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// dataInt returns m[key] as an int; the client decodes numbers as json.Number.
func dataInt(m map[string]any, key string) int {
	switch x := m[key].(type) {
	case json.Number:
		n, _ := x.Int64()
		return int(n)
	case float64:
		return int(x)
	case int:
		return x
	case string:
		n, _ := strconv.Atoi(x)
		return n
	}
	return 0
}

// dataStrings returns m[key] as a list of strings.
func dataStrings(m map[string]any, key string) []string {
	switch x := m[key].(type) {
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return append([]string(nil), x...)
	}
	return nil
}

// dataMap returns m[key] as a map.
func dataMap(m map[string]any, key string) map[string]any {
	x, _ := m[key].(map[string]any)
	return x
}

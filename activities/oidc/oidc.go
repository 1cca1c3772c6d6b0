// Package oidc revokes a developer's OAuth 2.0 / OpenID Connect tokens at their identity
// provider, using only the standards every IdP implements: the discovery document
// (/.well-known/openid-configuration) for the endpoints, RFC 7009 token revocation and RFC 7662
// token introspection, with firebreak's confidential client authenticating by HTTP basic auth.
//
// The raw token never crosses the activity boundary: a playbook names where the token is stored
// (a Vault KV v2 mount, path and field) and the activity reads it itself through the narrow
// TokenReader interface. Results and errors carry that reference and a short fingerprint, never
// the token.
package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
)

// ActivityPrefix prefixes the names of this package's activities in a worker.
const ActivityPrefix = "oidc."

// Application error types of the non-retryable errors these activities return.
const (
	// ErrInvalidClient: the IdP answered 401: firebreak's client id or secret is wrong.
	ErrInvalidClient = "InvalidClient"
	// ErrInvalidRequest: the IdP rejected the request (400, 403, 404…); a retry cannot fix it.
	ErrInvalidRequest = "InvalidRequest"
	// ErrDiscovery: the discovery document is missing, malformed or lacks an endpoint.
	ErrDiscovery = "DiscoveryFailed"
	// ErrInvalidInput: the activity input is wrong; nothing was sent.
	ErrInvalidInput = "InvalidInput"
	// ErrNotConfigured: the worker has no issuer, client or token reader configured.
	ErrNotConfigured = "NotConfigured"
)

// TokenReader reads the token stored at a reference. Implementations return the token's
// value only; their errors must not contain it. vault.KVReader implements it over Vault KV v2.
type TokenReader interface {
	ReadKVField(ctx context.Context, mount, path, field string) (string, error)
}

// Activities are the OIDC activities. Workflows call them through a nil *Activities.
type Activities struct {
	// Issuer is the IdP's issuer URL; discovery is at Issuer + "/.well-known/openid-configuration".
	Issuer string
	// ClientID and ClientSecret are firebreak's confidential client at the IdP, sent by HTTP
	// basic auth (RFC 6749 §2.3.1).
	ClientID, ClientSecret string
	// HTTP is the client used for every request; nil means one with a 30 s timeout.
	HTTP *http.Client
	// Tokens reads the token a reference names.
	Tokens TokenReader

	mu        sync.Mutex
	discovery *Discovery
}

// Register registers the activities on a worker as "oidc.RevokeToken" and "oidc.VerifyRevoked".
func Register(r worker.ActivityRegistry, a *Activities) {
	r.RegisterActivityWithOptions(a, activity.RegisterOptions{Name: ActivityPrefix})
}

// Discovery is the part of the OpenID Provider metadata these activities use.
type Discovery struct {
	Issuer                string `json:"issuer"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// TokenRef names where a token is stored: field of the KV v2 secret at mount/path.
type TokenRef struct {
	Mount string `json:"mount"`
	Path  string `json:"path"`
	Field string `json:"field"`
}

// String is the reference as results show it, e.g. "secret/portal/alice#token".
func (r TokenRef) String() string { return r.Mount + "/" + r.Path + "#" + r.Field }

func (r TokenRef) withDefaults() TokenRef {
	if r.Mount == "" {
		r.Mount = "secret"
	}
	if r.Field == "" {
		r.Field = "token"
	}
	return r
}

// RevokeTokenInput names the token to revoke.
type RevokeTokenInput struct {
	Subject string `json:"subject"`
	// Mount (default "secret"), Path and Field (default "token") locate the token in Vault KV v2.
	Mount string `json:"mount"`
	Path  string `json:"path"`
	Field string `json:"field"`
	// TokenTypeHint is "access_token", "refresh_token" or empty (RFC 7009 §2.1).
	TokenTypeHint  string `json:"token_type_hint"`
	IdempotencyKey string `json:"idempotency_key"`
}

// RevokeTokenResult reports the revocation by reference.
type RevokeTokenResult struct {
	Ref         string `json:"ref"`         // e.g. secret/portal/alice#token
	Fingerprint string `json:"fingerprint"` // first 12 hex digits of the token's SHA-256
	Revoked     bool   `json:"revoked"`     // the IdP answered 200: the token is revoked or was already invalid
	Status      int    `json:"status"`
	Endpoint    string `json:"endpoint"`
}

// VerifyRevokedInput names the token that must be inactive.
type VerifyRevokedInput struct {
	Subject string `json:"subject"`
	Mount   string `json:"mount"`
	Path    string `json:"path"`
	Field   string `json:"field"`
}

// VerifyResult is the outcome of a verification: Passed when every check passed.
type VerifyResult struct {
	Passed bool    `json:"passed"`
	Checks []Check `json:"checks"`
}

// Check is one verified condition.
type Check struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}

// RevokeToken reads the referenced token and revokes it at the IdP's revocation endpoint
// (RFC 7009). The IdP answers 200 for a token that is already revoked or invalid, so a retry
// or a second run succeeds the same way.
func (a *Activities) RevokeToken(ctx context.Context, in RevokeTokenInput) (RevokeTokenResult, error) {
	ref := TokenRef{Mount: in.Mount, Path: in.Path, Field: in.Field}.withDefaults()
	switch in.TokenTypeHint {
	case "", "access_token", "refresh_token":
	default:
		return RevokeTokenResult{}, invalidInput("oidc.revoke_token: token_type_hint %q: expected access_token, refresh_token or empty", in.TokenTypeHint)
	}
	tok, d, err := a.prepare(ctx, ref, "oidc.revoke_token")
	if err != nil {
		return RevokeTokenResult{}, err
	}
	if d.RevocationEndpoint == "" {
		return RevokeTokenResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("oidc.revoke_token: the discovery document of %s has no revocation_endpoint; expected an RFC 7009 endpoint", a.Issuer), ErrDiscovery, nil)
	}
	form := url.Values{"token": {tok}}
	if in.TokenTypeHint != "" {
		form.Set("token_type_hint", in.TokenTypeHint)
	}
	status, _, err := a.post(ctx, d.RevocationEndpoint, form, "revoke "+ref.String())
	if err != nil {
		return RevokeTokenResult{}, err
	}
	return RevokeTokenResult{Ref: ref.String(), Fingerprint: fingerprint(tok), Revoked: true, Status: status, Endpoint: d.RevocationEndpoint}, nil
}

// VerifyRevoked introspects the referenced token (RFC 7662) and passes when the IdP says it
// is not active. An active token is a failed check, not an error.
func (a *Activities) VerifyRevoked(ctx context.Context, in VerifyRevokedInput) (VerifyResult, error) {
	ref := TokenRef{Mount: in.Mount, Path: in.Path, Field: in.Field}.withDefaults()
	tok, d, err := a.prepare(ctx, ref, "oidc.verify_revoked")
	if err != nil {
		return VerifyResult{}, err
	}
	if d.IntrospectionEndpoint == "" {
		return VerifyResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("oidc.verify_revoked: the discovery document of %s has no introspection_endpoint; expected an RFC 7662 endpoint", a.Issuer), ErrDiscovery, nil)
	}
	_, body, err := a.post(ctx, d.IntrospectionEndpoint, url.Values{"token": {tok}}, "introspect "+ref.String())
	if err != nil {
		return VerifyResult{}, err
	}
	var ans struct {
		Active *bool `json:"active"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.Active == nil {
		return VerifyResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("oidc.verify_revoked: introspection of %s: expected a JSON object with a boolean \"active\" (RFC 7662 §2.2), got %d bytes that are not", ref, len(body)), ErrInvalidRequest, nil)
	}
	c := Check{Name: "oidc token " + ref.String() + " revoked", Passed: !*ans.Active}
	if c.Passed {
		c.Detail = fmt.Sprintf("introspection answered active:false for token %s", fingerprint(tok))
	} else {
		c.Detail = fmt.Sprintf("introspection answered active:true for token %s; expected it revoked", fingerprint(tok))
	}
	return VerifyResult{Passed: c.Passed, Checks: []Check{c}}, nil
}

// prepare checks the configuration and the reference, reads the token and discovers the endpoints.
func (a *Activities) prepare(ctx context.Context, ref TokenRef, what string) (string, *Discovery, error) {
	if a.Issuer == "" || a.ClientID == "" || a.Tokens == nil {
		return "", nil, temporal.NewNonRetryableApplicationError(what+": no OIDC issuer, client id or token reader configured for this worker (OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET)", ErrNotConfigured, nil)
	}
	if err := validRef(ref); err != nil {
		return "", nil, err
	}
	tok, err := a.Tokens.ReadKVField(ctx, ref.Mount, ref.Path, ref.Field)
	if err != nil {
		return "", nil, wrap(err, fmt.Sprintf("%s: reading the token at %s", what, ref))
	}
	if tok == "" {
		return "", nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: the token at %s is empty; expected a token", what, ref), ErrInvalidInput, nil)
	}
	d, err := a.discover(ctx)
	if err != nil {
		return "", nil, err
	}
	return tok, d, nil
}

// wrap adds context to err while keeping a non-retryable application error non-retryable
// (the SDK classifies the outermost error only).
func wrap(err error, context string) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.NonRetryable() {
		return temporal.NewNonRetryableApplicationError(context+": "+err.Error(), app.Type(), err)
	}
	return fmt.Errorf("%s: %w", context, err)
}

func validRef(ref TokenRef) error {
	if ref.Path == "" {
		return invalidInput("oidc: path is empty; expected the KV v2 path where the token is stored, e.g. portal/alice")
	}
	for _, f := range [][2]string{{"mount", ref.Mount}, {"path", ref.Path}} {
		name, v := f[0], f[1]
		for _, seg := range strings.Split(v, "/") {
			if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "?#") {
				return invalidInput("oidc: %s %q is not a plain path; expected non-empty segments without '.', '..', '?' or '#'", name, v)
			}
		}
	}
	if strings.ContainsAny(ref.Mount, "/") {
		return invalidInput("oidc: mount %q: expected one path segment such as \"secret\"", ref.Mount)
	}
	return nil
}

// discover fetches and caches the discovery document, checking that it names this issuer
// (OpenID Connect Discovery §4.3) and that its endpoints do not downgrade to plain HTTP.
func (a *Activities) discover(ctx context.Context) (*Discovery, error) {
	a.mu.Lock()
	d := a.discovery
	a.mu.Unlock()
	if d != nil {
		return d, nil
	}
	issuer := strings.TrimSuffix(a.Issuer, "/")
	u := issuer + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("oidc: issuer "+a.Issuer+": "+err.Error(), ErrNotConfigured, nil)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("oidc: discovery at %s: %w (transport failure; will retry)", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("oidc: discovery at %s: reading the answer: %w", u, err)
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return nil, fmt.Errorf("oidc: discovery at %s: the IdP answered %d; will retry", u, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("oidc: discovery at %s: expected 200 with the provider metadata, got %d", u, resp.StatusCode), ErrDiscovery, nil)
	}
	var doc Discovery
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("oidc: discovery at %s: expected a JSON object: %v", u, err), ErrDiscovery, nil)
	}
	if strings.TrimSuffix(doc.Issuer, "/") != issuer {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("oidc: discovery at %s names issuer %q; expected %q", u, doc.Issuer, a.Issuer), ErrDiscovery, nil)
	}
	for _, ep := range []string{doc.RevocationEndpoint, doc.IntrospectionEndpoint} {
		if ep == "" {
			continue
		}
		p, err := url.Parse(ep)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || (p.Scheme == "http" && strings.HasPrefix(issuer, "https:")) {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("oidc: discovery at %s: endpoint %q: expected an https URL (client credentials are sent to it)", u, ep), ErrDiscovery, nil)
		}
	}
	a.mu.Lock()
	a.discovery = &doc
	a.mu.Unlock()
	return &doc, nil
}

// post sends a form with the client's credentials and classifies the answer: 200 is returned,
// 401 names the client and is final, 429 and 5xx are retried, any other status is final.
func (a *Activities) post(ctx context.Context, endpoint string, form url.Values, what string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("oidc: %s: endpoint %q: %v", what, endpoint, err), ErrDiscovery, nil)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: the id and secret are form-encoded before basic auth.
	req.SetBasicAuth(url.QueryEscape(a.ClientID), url.QueryEscape(a.ClientSecret))
	resp, err := a.client().Do(req)
	if err != nil {
		// *url.Error names the endpoint and method only; the body (with the token) is not in it.
		return 0, nil, fmt.Errorf("oidc: %s: %w (transport failure; will retry)", what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("oidc: %s at %s: reading the answer: %w", what, endpoint, err)
	}
	code := oauthError(body)
	switch {
	case resp.StatusCode == http.StatusOK:
		return resp.StatusCode, body, nil
	case resp.StatusCode == http.StatusUnauthorized:
		return 0, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("oidc: %s at %s: the IdP refused client %q (401 %s); check OIDC_CLIENT_ID and OIDC_CLIENT_SECRET", what, endpoint, a.ClientID, code), ErrInvalidClient, nil)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return 0, nil, fmt.Errorf("oidc: %s at %s: the IdP answered %d %s; will retry", what, endpoint, resp.StatusCode, code)
	default:
		return 0, nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("oidc: %s at %s: expected 200, the IdP answered %d %s", what, endpoint, resp.StatusCode, code), ErrInvalidRequest, nil)
	}
}

// oauthError extracts the RFC 6749 §5.2 error code from an error answer. The description is
// left out: an IdP might echo the token in it.
func oauthError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return ""
	}
	// Registered codes are lower-case words joined by '_' (invalid_client, unsupported_token_type).
	for _, r := range e.Error {
		if (r < 'a' || r > 'z') && r != '_' {
			return ""
		}
	}
	if len(e.Error) > 40 {
		return ""
	}
	return "(" + e.Error + ")"
}

func (a *Activities) client() *http.Client {
	if a.HTTP != nil {
		return a.HTTP
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// fingerprint identifies a token in results without revealing it.
func fingerprint(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

func invalidInput(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrInvalidInput, nil)
}

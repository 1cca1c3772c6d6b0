package oidcfake

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/seed"
)

// OIDC is the sandbox's identity provider (the developer portal's): the OpenID discovery
// document, RFC 7009 revocation at /oauth2/revoke and RFC 7662 introspection at
// /oauth2/introspect, both requiring firebreak's client credentials by HTTP basic auth. It is
// seeded with one portal token per developer; each contains Canary. It also signs JWT access
// tokens (RS256, AccessToken) whose keys it publishes at /oauth2/keys, as the IdP behind a
// Temporal Web UI sign-in does.
type OIDC struct {
	*fakebase.Server
	keyOne sync.Once // the signing key is made when first needed: most sandboxes never sign
	key    *rsa.PrivateKey
	mu     sync.Mutex
	tokens map[string]*oidcToken // by token value
}

// KeyID is the key id (kid) of the IdP's signing key.
const KeyID = "sandbox-idp-1"

type oidcToken struct {
	subject string
	revoked bool
}

// Credentials of firebreak's client at the sandbox IdP.
const (
	ClientID         = "firebreak"
	oidcClientSecret = "oidc-client-" + fakebase.Canary + "-s3cr3t"
)

// PortalTokenMount, PortalTokenField and PortalTokenPath say where testenv.NewSandbox stores each
// developer's portal token in Vault: field "token" of secret/portal/<name>.
const (
	PortalTokenMount = "secret"
	PortalTokenField = "token"
)

// PortalTokenPath is the KV v2 path of a developer's portal token, e.g. "portal/alice".
func PortalTokenPath(developer string) string { return "portal/" + developer }

// PortalToken is the developer-portal token the sandbox IdP issued to developer.
func PortalToken(developer string) string {
	return "dpt-" + developer + "-" + fakebase.Canary + "-9c1e"
}

// New starts the IdP on loopback with a portal token for each developer of org.
func New(org *seed.Org, rec *fakebase.Recorder) *OIDC {
	o := &OIDC{tokens: map[string]*oidcToken{}}
	if org != nil {
		for _, d := range org.Developers {
			o.tokens[PortalToken(d.Name)] = &oidcToken{subject: d.Name}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", o.discovery)
	mux.HandleFunc("POST /oauth2/revoke", o.revoke)
	mux.HandleFunc("POST /oauth2/introspect", o.introspect)
	mux.HandleFunc("GET /oauth2/keys", o.keys)
	o.Server = fakebase.Start(rec, "oidc", nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.Fault(w, r) {
			return
		}
		mux.ServeHTTP(w, r)
	}))
	return o
}

// ClientSecret is the secret of client ClientID.
func (o *OIDC) ClientSecret() string { return oidcClientSecret }

// Active reports whether token is known to the IdP and not revoked.
func (o *OIDC) Active(token string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.tokens[token]
	return t != nil && !t.revoked
}

func (o *OIDC) discovery(w http.ResponseWriter, r *http.Request) {
	oidcJSON(w, http.StatusOK, map[string]any{
		"issuer":                                        o.URL(),
		"authorization_endpoint":                        o.URL() + "/oauth2/authorize",
		"token_endpoint":                                o.URL() + "/oauth2/token",
		"revocation_endpoint":                           o.URL() + "/oauth2/revoke",
		"introspection_endpoint":                        o.URL() + "/oauth2/introspect",
		"jwks_uri":                                      o.URL() + "/oauth2/keys",
		"response_types_supported":                      []string{"code"},
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         []string{"RS256"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic"},
	})
}

// authenticate checks client_secret_basic credentials (form-encoded, RFC 6749 §2.3.1).
func (o *OIDC) authenticate(w http.ResponseWriter, r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	if !ok || id != ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(oidcClientSecret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="sandbox-idp"`)
		oidcJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client"})
		return false
	}
	return true
}

func (o *OIDC) revoke(w http.ResponseWriter, r *http.Request) {
	if !o.authenticate(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
		oidcJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	switch r.PostForm.Get("token_type_hint") {
	case "", "access_token", "refresh_token":
	default:
		oidcJSON(w, http.StatusBadRequest, map[string]any{"error": "unsupported_token_type"})
		return
	}
	o.mu.Lock()
	if t := o.tokens[r.PostForm.Get("token")]; t != nil {
		t.revoked = true
	}
	o.mu.Unlock()
	// RFC 7009 §2.2: 200 whether the token was revoked now, earlier, or never valid.
	w.WriteHeader(http.StatusOK)
}

func (o *OIDC) introspect(w http.ResponseWriter, r *http.Request) {
	if !o.authenticate(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
		oidcJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	o.mu.Lock()
	t := o.tokens[r.PostForm.Get("token")]
	active := t != nil && !t.revoked
	var sub string
	if t != nil {
		sub = t.subject
	}
	o.mu.Unlock()
	if !active {
		oidcJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	oidcJSON(w, http.StatusOK, map[string]any{"active": true, "sub": sub, "client_id": "developer-portal", "token_type": "access_token"})
}

func oidcJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// AccessTokenClaims are the claims of an access token the IdP signs.
type AccessTokenClaims struct {
	Subject  string
	Email    string
	Groups   []string
	Audience string
	// Expiry is when the token expires (zero: an hour after IssuedAt).
	Expiry time.Time
	// IssuedAt is when it was issued (zero: now).
	IssuedAt time.Time
}

// AccessToken signs a JWT access token with the IdP's key.
func (o *OIDC) AccessToken(c AccessTokenClaims) string { return o.sign(o.signingKey(), c) }

func (o *OIDC) signingKey() *rsa.PrivateKey {
	o.keyOne.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(fmt.Sprintf("oidcfake: generating the IdP's signing key: %v", err))
		}
		o.key = key
	})
	return o.key
}

// ForgedAccessToken signs the same claims with another key under the IdP's key id: what
// someone who does not hold the IdP's key could make.
func (o *OIDC) ForgedAccessToken(c AccessTokenClaims) string {
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("oidcfake: generating a key: %v", err))
	}
	return o.sign(other, c)
}

func (o *OIDC) sign(key *rsa.PrivateKey, c AccessTokenClaims) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: KeyID}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		panic(fmt.Sprintf("oidcfake: signer: %v", err))
	}
	iat := c.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	exp := c.Expiry
	if exp.IsZero() {
		exp = iat.Add(time.Hour)
	}
	claims := jwt.Claims{Issuer: o.URL(), Subject: c.Subject, Audience: jwt.Audience{c.Audience}, IssuedAt: jwt.NewNumericDate(iat), Expiry: jwt.NewNumericDate(exp), ID: rand.Text()}
	extra := map[string]any{"client_id": ClientID}
	if c.Email != "" {
		extra["email"] = c.Email
	}
	if c.Groups != nil {
		extra["groups"] = c.Groups
	}
	raw, err := jwt.Signed(signer).Claims(claims).Claims(extra).Serialize()
	if err != nil {
		panic(fmt.Sprintf("oidcfake: signing a token: %v", err))
	}
	return raw
}

func (o *OIDC) keys(w http.ResponseWriter, r *http.Request) {
	oidcJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &o.signingKey().PublicKey, KeyID: KeyID, Algorithm: string(jose.RS256), Use: "sig"}}})
}

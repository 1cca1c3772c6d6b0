package codecserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/coreos/go-oidc/v3/oidc"
)

// OIDCVerifier validates JWT access tokens from one issuer: the signature against the
// issuer's JWKS (found through its discovery document and refreshed when a new key id
// appears), the issuer, the audience and the expiry.
type OIDCVerifier struct {
	v           *oidc.IDTokenVerifier
	groupsClaim string
	emailClaim  string
}

// OIDCOptions configure an OIDCVerifier.
type OIDCOptions struct {
	// Issuer is the issuer URL, as in the tokens' iss claim; its discovery document is at
	// Issuer + "/.well-known/openid-configuration".
	Issuer string
	// Audience must be in the tokens' aud claim: the client id or API audience the Web UI's
	// tokens are issued for.
	Audience string
	// GroupsClaim names the claim with the user's groups (a list of strings, or one string).
	// Default "groups".
	GroupsClaim string
	// EmailClaim names the claim with the user's email. Default "email".
	EmailClaim string
	// Client fetches the discovery document and the keys (nil: http.DefaultClient).
	Client *http.Client
}

// NewOIDCVerifier reads the issuer's discovery document; ctx bounds that request. Keys are
// fetched from the issuer's jwks_uri when a token names a key id not yet seen.
func NewOIDCVerifier(ctx context.Context, o OIDCOptions) (*OIDCVerifier, error) {
	if o.Issuer == "" || o.Audience == "" {
		return nil, errors.New("codecserver: OIDC needs an issuer and an audience")
	}
	if o.Client != nil {
		ctx = oidc.ClientContext(ctx, o.Client)
	}
	p, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("codecserver: OIDC issuer %s: %w", o.Issuer, err)
	}
	v := &OIDCVerifier{v: p.Verifier(&oidc.Config{ClientID: o.Audience}), groupsClaim: o.GroupsClaim, emailClaim: o.EmailClaim}
	if v.groupsClaim == "" {
		v.groupsClaim = "groups"
	}
	if v.emailClaim == "" {
		v.emailClaim = "email"
	}
	return v, nil
}

// Verify validates raw and returns whom it identifies.
func (v *OIDCVerifier) Verify(ctx context.Context, raw string) (Identity, error) {
	tok, err := v.v.Verify(ctx, raw)
	if err != nil {
		return Identity{}, err
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Identity{}, err
	}
	id := Identity{Method: MethodOIDC, Subject: tok.Subject}
	if e, ok := claims[v.emailClaim].(string); ok {
		id.Email = e
	}
	switch g := claims[v.groupsClaim].(type) {
	case string:
		id.Groups = splitList(g)
	case []any:
		for _, x := range g {
			if s, ok := x.(string); ok {
				id.Groups = append(id.Groups, s)
			}
		}
	}
	return id, nil
}

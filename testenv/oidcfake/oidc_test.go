package oidcfake_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/oidcfake"
	"github.com/firebreak-dev/firebreak/testenv/seed"
)

func TestOIDC(t *testing.T) {
	rec := &fakebase.Recorder{}
	idp := oidcfake.New(seed.DefaultOrg(), rec)
	defer idp.Close()
	alice := oidcfake.PortalToken("alice")
	if !fakebase.ContainsCanary(alice) || !fakebase.ContainsCanary(idp.ClientSecret()) {
		t.Fatalf("portal token and client secret must contain the canary")
	}

	resp, err := http.Get(idp.URL() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("discovery: %v", err)
	}
	resp.Body.Close()
	if doc["issuer"] != idp.URL() || doc["revocation_endpoint"] != idp.URL()+"/oauth2/revoke" || doc["introspection_endpoint"] != idp.URL()+"/oauth2/introspect" {
		t.Fatalf("discovery = %v; expected the issuer and both endpoints on %s", doc, idp.URL())
	}

	post := func(path, id, secret string, form url.Values) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, idp.URL()+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if id != "" {
			req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	tok := url.Values{"token": {alice}}
	cases := []struct {
		name, path, id, secret string
		form                   url.Values
		status                 int
		want                   map[string]any
	}{
		{"no credentials", "/oauth2/revoke", "", "", tok, 401, map[string]any{"error": "invalid_client"}},
		{"wrong secret", "/oauth2/introspect", oidcfake.ClientID, "nope", tok, 401, map[string]any{"error": "invalid_client"}},
		{"no token", "/oauth2/revoke", oidcfake.ClientID, idp.ClientSecret(), url.Values{}, 400, map[string]any{"error": "invalid_request"}},
		{"bad hint", "/oauth2/revoke", oidcfake.ClientID, idp.ClientSecret(), url.Values{"token": {alice}, "token_type_hint": {"id_token"}}, 400, map[string]any{"error": "unsupported_token_type"}},
		{"active before", "/oauth2/introspect", oidcfake.ClientID, idp.ClientSecret(), tok, 200, map[string]any{"active": true, "sub": "alice"}},
		{"revoke", "/oauth2/revoke", oidcfake.ClientID, idp.ClientSecret(), tok, 200, nil},
		{"revoke again", "/oauth2/revoke", oidcfake.ClientID, idp.ClientSecret(), tok, 200, nil},
		{"unknown token", "/oauth2/revoke", oidcfake.ClientID, idp.ClientSecret(), url.Values{"token": {"never-issued"}}, 200, nil},
		{"inactive after", "/oauth2/introspect", oidcfake.ClientID, idp.ClientSecret(), tok, 200, map[string]any{"active": false}},
	}
	for _, c := range cases {
		status, body := post(c.path, c.id, c.secret, c.form)
		if status != c.status {
			t.Errorf("%s: status %d; expected %d", c.name, status, c.status)
		}
		for k, v := range c.want {
			if body[k] != v {
				t.Errorf("%s: %s = %v; expected %v (body %v)", c.name, k, body[k], v, body)
			}
		}
	}
	if idp.Active(alice) || !idp.Active(oidcfake.PortalToken("bob")) {
		t.Errorf("expected alice's token revoked and bob's active")
	}
	if n := rec.Count("oidc", "POST /oauth2/revoke"); n != 6 {
		t.Errorf("recorded %d revocations; expected 6", n)
	}
}

package oidc_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/oidc"
	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv"
)

// harness is a sandbox Vault holding the portal tokens and the sandbox IdP, with the
// activities pointed at both through the real Vault client.
type harness struct {
	t    *testing.T
	rec  *testenv.Recorder
	v    *testenv.Vault
	idp  *testenv.OIDC
	acts *oidc.Activities
	env  *testsuite.TestActivityEnvironment
	// outputs collects every result and error message, for the canary scan.
	outputs []string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	org := testenv.DefaultOrg()
	rec := &testenv.Recorder{}
	v := testenv.NewVault(org, rec)
	t.Cleanup(v.Close)
	idp := testenv.NewOIDC(org, rec)
	t.Cleanup(idp.Close)
	for _, d := range org.Developers {
		v.PutSecret(testenv.PortalTokenMount, testenv.PortalTokenPath(d.Name), map[string]string{testenv.PortalTokenField: testenv.PortalToken(d.Name)})
	}
	cfg := api.DefaultConfig()
	cfg.Address = v.URL()
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("api.NewClient: %v", err)
	}
	c.SetToken(v.RootToken())
	h := &harness{t: t, rec: rec, v: v, idp: idp}
	h.acts = &oidc.Activities{Issuer: idp.URL(), ClientID: testenv.OIDCClientID, ClientSecret: idp.ClientSecret(), Tokens: vault.KVReader{Client: c.Logical()}}
	var ts testsuite.WorkflowTestSuite
	h.env = ts.NewTestActivityEnvironment()
	oidc.Register(h.env, h.acts)
	t.Cleanup(h.scan)
	return h
}

func (h *harness) revoke(in oidc.RevokeTokenInput) (oidc.RevokeTokenResult, error) {
	var res oidc.RevokeTokenResult
	val, err := h.env.ExecuteActivity(oidc.ActivityPrefix+"RevokeToken", in)
	if err == nil {
		err = val.Get(&res)
	}
	h.record(res, err)
	return res, err
}

func (h *harness) verify(in oidc.VerifyRevokedInput) (oidc.VerifyResult, error) {
	var res oidc.VerifyResult
	val, err := h.env.ExecuteActivity(oidc.ActivityPrefix+"VerifyRevoked", in)
	if err == nil {
		err = val.Get(&res)
	}
	h.record(res, err)
	return res, err
}

func (h *harness) record(res any, err error) {
	h.outputs = append(h.outputs, fmt.Sprintf("%+v", res))
	if err != nil {
		h.outputs = append(h.outputs, err.Error())
	}
}

// scan fails the test when any result or error contains the canary.
func (h *harness) scan() {
	for _, o := range h.outputs {
		if testenv.ContainsCanary(o) {
			h.t.Errorf("canary leaked into an activity result or error: %q", o)
		}
	}
}

func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		t.Fatalf("error %v: expected a *temporal.ApplicationError, got %T", err, err)
	}
	return app
}

func aliceRef() oidc.RevokeTokenInput {
	return oidc.RevokeTokenInput{Subject: "alice", Path: "portal/alice", IdempotencyKey: "run/revoke_portal"}
}

func TestRevokeThenVerify(t *testing.T) {
	h := newHarness(t)
	tok := testenv.PortalToken("alice")

	before, err := h.verify(oidc.VerifyRevokedInput{Subject: "alice", Path: "portal/alice"})
	if err != nil {
		t.Fatalf("verify before revoke: %v", err)
	}
	if before.Passed || len(before.Checks) != 1 || before.Checks[0].Passed || !strings.Contains(before.Checks[0].Detail, "active:true") {
		t.Fatalf("verify before revoke = %+v; expected one failed check saying active:true", before)
	}

	res, err := h.revoke(aliceRef())
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if !res.Revoked || res.Status != http.StatusOK || res.Ref != "secret/portal/alice#token" || !strings.HasPrefix(res.Fingerprint, "sha256:") || res.Endpoint != h.idp.URL()+"/oauth2/revoke" {
		t.Errorf("revoke result = %+v; expected revoked, 200, ref secret/portal/alice#token, a fingerprint and the discovered endpoint", res)
	}
	if h.idp.Active(tok) {
		t.Fatalf("alice's portal token is still active at the IdP after revoke")
	}
	if !h.idp.Active(testenv.PortalToken("bob")) {
		t.Errorf("bob's portal token was revoked too; expected only alice's")
	}

	// Idempotent: revoking again answers 200 (RFC 7009) and succeeds the same way.
	again, err := h.revoke(aliceRef())
	if err != nil || again != res {
		t.Errorf("second revoke = %+v, %v; expected the same result %+v and no error", again, err, res)
	}

	after, err := h.verify(oidc.VerifyRevokedInput{Subject: "alice", Path: "portal/alice", Field: "token"})
	if err != nil {
		t.Fatalf("verify after revoke: %v", err)
	}
	if !after.Passed || len(after.Checks) != 1 || !after.Checks[0].Passed {
		t.Errorf("verify after revoke = %+v; expected one passed check", after)
	}

	// Discovery is fetched once and reused; every IdP request carried the client's credentials.
	if n := h.rec.Count("oidc", "GET /.well-known/openid-configuration"); n != 1 {
		t.Errorf("discovery fetched %d times; expected once", n)
	}
	if n := h.rec.Count("oidc", "POST /oauth2/revoke"); n != 2 {
		t.Errorf("revocation endpoint called %d times; expected 2", n)
	}
	for _, c := range h.rec.Calls("oidc") {
		if c.Status == http.StatusUnauthorized {
			t.Errorf("%s answered 401; expected the configured credentials to be accepted", c.Op)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name         string
		setup        func(h *harness)
		in           oidc.RevokeTokenInput
		nonRetryable bool
		errType      string
		contains     []string
	}{
		{
			name:  "bad client secret",
			setup: func(h *harness) { h.acts.ClientSecret = "wrong" },
			in:    aliceRef(), nonRetryable: true, errType: oidc.ErrInvalidClient,
			contains: []string{`client "firebreak"`, "401", "invalid_client", "OIDC_CLIENT_SECRET"},
		},
		{
			name: "IdP unavailable",
			setup: func(h *harness) {
				h.idp.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
					if r.URL.Path != "/oauth2/revoke" {
						return false
					}
					http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
					return true
				})
			},
			in: aliceRef(), nonRetryable: false, contains: []string{"503", "will retry"},
		},
		{
			name: "IdP throttling",
			setup: func(h *harness) {
				h.idp.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
					w.WriteHeader(http.StatusTooManyRequests)
					return true
				})
			},
			in: aliceRef(), nonRetryable: false, contains: []string{"429", "will retry"},
		},
		{
			name: "IdP rejects the request",
			setup: func(h *harness) {
				h.idp.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
					if r.URL.Path != "/oauth2/revoke" {
						return false
					}
					w.WriteHeader(http.StatusBadRequest)
					// An IdP echoing the token in its error must not leak it into ours.
					_, _ = fmt.Fprintf(w, `{"error":"invalid_request","error_description":"bad token %s"}`, testenv.PortalToken("alice"))
					return true
				})
			},
			in: aliceRef(), nonRetryable: true, errType: oidc.ErrInvalidRequest, contains: []string{"400", "invalid_request"},
		},
		{
			name: "no token stored at the path",
			in:   oidc.RevokeTokenInput{Path: "portal/mallory"}, nonRetryable: true, errType: vault.ErrSecretNotFound,
			contains: []string{"secret/portal/mallory#token", "no KV v2 secret"},
		},
		{
			name: "no such field",
			in:   oidc.RevokeTokenInput{Path: "portal/alice", Field: "refresh"}, nonRetryable: true, errType: vault.ErrSecretNotFound,
			contains: []string{`no field "refresh"`},
		},
		{
			name: "path escapes",
			in:   oidc.RevokeTokenInput{Path: "portal/../sys"}, nonRetryable: true, errType: oidc.ErrInvalidInput,
			contains: []string{`path "portal/../sys"`},
		},
		{
			name: "bad token type hint",
			in:   oidc.RevokeTokenInput{Path: "portal/alice", TokenTypeHint: "id_token"}, nonRetryable: true, errType: oidc.ErrInvalidInput,
			contains: []string{"id_token", "access_token, refresh_token"},
		},
		{
			name:  "no discovery document at the issuer",
			setup: func(h *harness) { h.acts.Issuer = h.idp.URL() + "/tenant" },
			in:    aliceRef(), nonRetryable: true, errType: oidc.ErrDiscovery,
			contains: []string{"404", "/tenant/.well-known/openid-configuration"},
		},
		{
			name: "discovery names another issuer",
			setup: func(h *harness) {
				h.idp.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
					if r.URL.Path != "/.well-known/openid-configuration" {
						return false
					}
					_, _ = fmt.Fprintf(w, `{"issuer":"https://idp.other.test","revocation_endpoint":%q}`, h.idp.URL()+"/oauth2/revoke")
					return true
				})
			},
			in: aliceRef(), nonRetryable: true, errType: oidc.ErrDiscovery, contains: []string{`"https://idp.other.test"`, "expected"},
		},
		{
			name: "discovery without revocation endpoint",
			setup: func(h *harness) {
				h.idp.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
					if r.URL.Path != "/.well-known/openid-configuration" {
						return false
					}
					_, _ = fmt.Fprintf(w, `{"issuer":%q}`, h.idp.URL())
					return true
				})
			},
			in: aliceRef(), nonRetryable: true, errType: oidc.ErrDiscovery, contains: []string{"no revocation_endpoint"},
		},
		{
			name:  "not configured",
			setup: func(h *harness) { h.acts.Issuer = "" },
			in:    aliceRef(), nonRetryable: true, errType: oidc.ErrNotConfigured, contains: []string{"OIDC_ISSUER"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.setup != nil {
				tc.setup(h)
			}
			_, err := h.revoke(tc.in)
			if err == nil {
				t.Fatalf("revoke succeeded; expected an error")
			}
			app := appError(t, err)
			if app.NonRetryable() != tc.nonRetryable {
				t.Errorf("non-retryable = %v; expected %v (error: %v)", app.NonRetryable(), tc.nonRetryable, err)
			}
			if tc.errType != "" && app.Type() != tc.errType {
				t.Errorf("error type = %q; expected %q (error: %v)", app.Type(), tc.errType, err)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if !h.idp.Active(testenv.PortalToken("alice")) {
				t.Errorf("alice's token was revoked although the activity failed")
			}
		})
	}
}

func TestVerifyRejectsMalformedIntrospection(t *testing.T) {
	h := newHarness(t)
	h.idp.SetFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/oauth2/introspect" {
			return false
		}
		_, _ = w.Write([]byte(`{"sub":"alice"}`))
		return true
	})
	_, err := h.verify(oidc.VerifyRevokedInput{Path: "portal/alice"})
	if err == nil {
		t.Fatalf("verify succeeded on an answer without \"active\"; expected an error")
	}
	if app := appError(t, err); !app.NonRetryable() || !strings.Contains(err.Error(), `boolean "active"`) {
		t.Errorf("error = %v; expected a non-retryable error asking for a boolean \"active\"", err)
	}
}

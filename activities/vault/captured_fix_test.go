package vault_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/firebreak-dev/firebreak/activities/vault"
)

// developerHCL is the sandbox's developer policy (an entity policy of every developer).
const developerHCL = `path "secret/data/dev/*" { capabilities = ["read", "list"] }
path "secret/metadata/dev/*" { capabilities = ["list"] }`

// templatedPlus is a rule with a "+" segment that is also templated: the resultant ACL
// leaves it out and Vault renders it only for the entity, so the capture walks the KV tree
// and asks Vault with the probe.
const templatedPlus = `
path "secret/data/+/{{identity.entity.name}}/*" { capabilities = ["read"] }`

// proxy starts a server in front of the sandbox Vault; intercept, when it answers true, has
// answered the request itself. body is the request's body, already read.
func (h *harness) proxy(intercept func(w http.ResponseWriter, r *http.Request, body []byte) bool) *httptest.Server {
	h.t.Helper()
	target, err := url.Parse(h.v.URL())
	if err != nil {
		h.t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if intercept(w, r, body) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	h.t.Cleanup(srv.Close)
	return srv
}

// clientAt is h.client with another address.
func (h *harness) clientAt(addr, token string) *api.Client {
	c := h.client(token)
	if err := c.SetAddress(addr); err != nil {
		h.t.Fatal(err)
	}
	return c
}

// secondLogin gives alice a second way to log in, with other policies than her userpass
// login: a token role allowed for an alias of hers on the token auth mount.
func (h *harness) secondLogin(policies ...string) {
	h.t.Helper()
	ctx := context.Background()
	root := h.client(h.v.RootToken()).Logical()
	mounts, err := h.client(h.v.RootToken()).Sys().ListAuthWithContext(ctx)
	if err != nil {
		h.t.Fatalf("sys/auth: %v", err)
	}
	tok, ok := mounts["token/"]
	if !ok {
		h.t.Fatal("no token auth mount")
	}
	if _, err := root.WriteWithContext(ctx, "auth/token/roles/alice-ops", map[string]any{
		"allowed_entity_aliases": []string{"alice-ops"}, "allowed_policies": policies,
	}); err != nil {
		h.t.Fatalf("token role: %v", err)
	}
	if _, err := root.WriteWithContext(ctx, "identity/entity-alias", map[string]any{
		"name": "alice-ops", "canonical_id": h.v.EntityID("alice"), "mount_accessor": tok.Accessor,
	}); err != nil {
		h.t.Fatalf("entity alias: %v", err)
	}
}

func writeVaultError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, `{"errors":["`+msg+`"]}`)
}

// TestCaptureListsTheTreeOnceForManyLogins: two logins with different policies, both
// carrying a templated "+" rule (from the entity's policy), are captured at once; the KV tree
// is listed once and shared (run with -race: the logins used to list it each, racing on the
// inventory pass).
func TestCaptureListsTheTreeOnceForManyLogins(t *testing.T) {
	h := newHarness(t)
	h.v.PutPolicy("developer", developerHCL+templatedPlus)
	h.secondLogin("payments-reader")
	var rootLists atomic.Int32
	srv := h.proxy(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if strings.TrimSuffix(r.URL.Path, "/") == "/v1/secret/metadata" && (r.Method == "LIST" || r.URL.Query().Get("list") == "true") {
			rootLists.Add(1)
		}
		return false
	})
	acts := *h.acts
	acts.Client = h.clientAt(srv.URL, h.v.RootToken()).Logical()
	acts.TokenClient = vault.TokenClientOf(h.client(h.v.RootToken()))
	var nl vault.NextLoginResult
	if err := h.run(&acts, "CaptureNextLogin", vault.InventoryInput{Subject: "alice"}, &nl); err != nil {
		t.Fatalf("CaptureNextLogin: %v", err)
	}
	if len(nl.ACLs) < 2 {
		t.Fatalf("want two logins captured, got %+v", nl.ACLs)
	}
	for _, a := range nl.ACLs {
		if !a.Captured || a.Readable == nil {
			t.Errorf("login %s: captured %v, readable %v (%s); want captured with the readable secrets", a.Via, a.Captured, a.Readable, a.Reason)
		}
		if !slices.Contains(a.Readable, "secret/data/dev/alice/scratch") {
			t.Errorf("login %s: readable %v; want secret/data/dev/alice/scratch", a.Via, a.Readable)
		}
	}
	if n := rootLists.Load(); n != 1 {
		t.Errorf("the KV tree's root was listed %d times; want once", n)
	}
	h.noCanary()
}

// TestCaptureKeepsTheOtherLoginsWhenOneFails: a policy with a capability firebreak did not
// know (scan, which OpenBao accepts), and one login whose resultant ACL Vault refuses to show: the capture is not reported
// unavailable, that login is left to the inventory's own evaluation, and the inventory after
// the cut lists what the logins could read.
func TestCaptureKeepsTheOtherLoginsWhenOneFails(t *testing.T) {
	h := newHarness(t)
	h.v.PutPolicy("payments-reader", `path "secret/data/shared/payments-db" { capabilities = ["read"] }
path "secret/data/shared/stripe-*" { capabilities = ["read", "scan"] }`)
	h.secondLogin("payments-reader")
	in := vault.InventoryInput{Subject: "alice"}
	var before vault.InventoryResult
	if err := h.run(h.acts, "ReadableSecrets", in, &before); err != nil {
		t.Fatalf("ReadableSecrets: %v", err)
	}
	if len(before.ReadablePaths) == 0 {
		t.Fatal("the probe before the cut found nothing readable")
	}
	var refused atomic.Int32
	srv := h.proxy(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.URL.Path == "/v1/sys/internal/ui/resultant-acl" && refused.Add(1) == 1 {
			writeVaultError(w, http.StatusForbidden, "permission denied")
			return true
		}
		return false
	})
	acts := *h.acts
	acts.TokenClient = vault.TokenClientOf(h.clientAt(srv.URL, h.v.RootToken()))
	var nl vault.NextLoginResult
	if err := h.run(&acts, "CaptureNextLogin", in, &nl); err != nil {
		t.Fatalf("CaptureNextLogin: %v", err)
	}
	if nl.Status != vault.StatusFound || len(nl.ACLs) != 2 {
		t.Fatalf("capture: status %s (%s), ACLs %+v; want found with two logins", nl.Status, nl.Detail, nl.ACLs)
	}
	captured, fallback := 0, 0
	for _, a := range nl.ACLs {
		switch {
		case a.Captured:
			captured++
		case !a.Refused && a.Reason != "":
			fallback++
		default:
			t.Errorf("login %s: %+v", a.Via, a)
		}
	}
	if captured != 1 || fallback != 1 {
		t.Errorf("captured %d, left to the inventory %d; want 1 and 1: %+v", captured, fallback, nl.ACLs)
	}
	var er vault.EntityResult
	if err := h.run(h.acts, "DisableEntity", vault.EntityInput{EntityID: nl.EntityID}, &er); err != nil {
		t.Fatalf("DisableEntity: %v", err)
	}
	in.NextLogin = &nl
	var now vault.InventoryResult
	if err := h.run(h.acts, "Inventory", in, &now); err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	for _, p := range before.ReadablePaths {
		if !slices.Contains(now.ReadablePaths, p) {
			t.Errorf("inventory after the cut lists %v; missing %s, which the next login could read (undetermined: %v)", now.ReadablePaths, p, now.Undetermined)
		}
	}
	h.noCanary()
}

// TestCaptureProbeNoLongerAnsweredIsNotRefused: when Vault no longer answers for the probe
// (invalid token: e.g. it expired while the KV tree was listed), the login is left to the
// inventory's own evaluation, not counted as refused (granting nothing).
func TestCaptureProbeNoLongerAnsweredIsNotRefused(t *testing.T) {
	h := newHarness(t)
	h.v.PutPolicy("developer", developerHCL+templatedPlus)
	srv := h.proxy(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.URL.Path == "/v1/sys/capabilities-accessor" {
			writeVaultError(w, http.StatusBadRequest, `1 error occurred:\n\t* invalid token\n\n`)
			return true
		}
		return false
	})
	acts := *h.acts
	acts.Client = h.clientAt(srv.URL, h.v.RootToken()).Logical()
	acts.TokenClient = vault.TokenClientOf(h.client(h.v.RootToken()))
	in := vault.InventoryInput{Subject: "alice"}
	var nl vault.NextLoginResult
	if err := h.run(&acts, "CaptureNextLogin", in, &nl); err != nil {
		t.Fatalf("CaptureNextLogin: %v", err)
	}
	if nl.Status != vault.StatusFound || len(nl.ACLs) == 0 {
		t.Fatalf("capture: status %s (%s), ACLs %+v", nl.Status, nl.Detail, nl.ACLs)
	}
	for _, a := range nl.ACLs {
		if a.Refused || a.Captured || a.Reason == "" {
			t.Errorf("login %s: refused %v, captured %v, reason %q; want left to the inventory with a reason", a.Via, a.Refused, a.Captured, a.Reason)
		}
	}
	var er vault.EntityResult
	if err := h.run(h.acts, "DisableEntity", vault.EntityInput{EntityID: nl.EntityID}, &er); err != nil {
		t.Fatalf("DisableEntity: %v", err)
	}
	in.NextLogin = &nl
	var now vault.InventoryResult
	if err := h.run(h.acts, "Inventory", in, &now); err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	if !slices.Contains(now.ReadablePaths, "secret/dev/alice/scratch") {
		t.Errorf("inventory after the cut lists %v; want secret/dev/alice/scratch", now.ReadablePaths)
	}
	h.noCanary()
}

// TestEvaluationPolicyGrantsNoWrites: the temporary policy that evaluates a captured ACL
// holds only what the read decision needs, and decides as the person's policies do.
func TestEvaluationPolicyGrantsNoWrites(t *testing.T) {
	h := newHarness(t)
	h.v.PutPolicy("developer", `path "secret/data/dev/*" { capabilities = ["read", "list", "create", "update", "delete", "patch", "sudo"] }
path "secret/data/dev/alice/*" { capabilities = ["create", "update"] }
path "secret/metadata/dev/*" { capabilities = ["list", "delete"] }`)
	var mu sync.Mutex
	var written []string
	srv := h.proxy(func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		if strings.HasPrefix(r.URL.Path, "/v1/sys/policies/acl/firebreak-next-login-") && (r.Method == "PUT" || r.Method == "POST") {
			mu.Lock()
			written = append(written, string(body))
			mu.Unlock()
		}
		return false
	})
	acts := *h.acts
	acts.Client = h.clientAt(srv.URL, h.v.RootToken()).Logical()
	acts.TokenClient = vault.TokenClientOf(h.client(h.v.RootToken()))
	in := vault.InventoryInput{Subject: "alice"}
	var before vault.InventoryResult
	if err := h.run(h.acts, "ReadableSecrets", in, &before); err != nil {
		t.Fatalf("ReadableSecrets: %v", err)
	}
	var nl vault.NextLoginResult
	if err := h.run(&acts, "CaptureNextLogin", in, &nl); err != nil {
		t.Fatalf("CaptureNextLogin: %v", err)
	}
	var er vault.EntityResult
	if err := h.run(h.acts, "DisableEntity", vault.EntityInput{EntityID: nl.EntityID}, &er); err != nil {
		t.Fatalf("DisableEntity: %v", err)
	}
	var old, now vault.InventoryResult
	if err := h.run(h.acts, "Inventory", in, &old); err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	in.NextLogin = &nl
	if err := h.run(&acts, "Inventory", in, &now); err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	if len(written) == 0 {
		t.Fatal("no temporary policy was written")
	}
	for _, text := range written {
		if !strings.Contains(text, "read") {
			t.Errorf("temporary policy grants no read: %s", text)
		}
		for _, c := range []string{"create", "update", "delete", "sudo", "patch"} {
			if strings.Contains(text, c) {
				t.Errorf("temporary policy holds %q: %s", c, text)
			}
		}
	}
	want := append(append([]string{}, before.ReadablePaths...), old.ReadablePaths...)
	slices.Sort(want)
	want = slices.Compact(want)
	if !slices.Equal(now.ReadablePaths, want) {
		t.Errorf("captured grants found %v; the probe before the cut and the inventory after it found %v", now.ReadablePaths, want)
	}
	if slices.Contains(now.ReadablePaths, "secret/dev/alice/scratch") {
		t.Errorf("secret/dev/alice/scratch listed: the narrower create-only rule must still outrank secret/data/dev/*")
	}
	h.noCanary()
}

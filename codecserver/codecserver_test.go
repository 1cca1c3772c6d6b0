package codecserver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/firebreak-dev/firebreak/codecserver"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/workflows"
)

const (
	uiOrigin  = "https://temporal.example.com"
	namespace = "firebreak-prod"
	audience  = "temporal-ui"
	token     = "0123456789abcdef0123"
)

func newCodec(t *testing.T) *workflows.Codec {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	c, err := workflows.NewCodec("k1", map[string][]byte{"k1": key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// encrypted returns a Payloads body as the Web UI would send it: firebreak ciphertext of a
// JSON payload that names a run and a step.
func encrypted(t *testing.T, c *workflows.Codec) []byte {
	t.Helper()
	plain := []*commonpb.Payload{{
		Metadata: map[string][]byte{"encoding": []byte("json/plain")},
		Data:     []byte(`{"subject":"alice","idempotency_key":"firebreak/compromised-dev-key/alice/revoke_tokens","note":"plaintext-marker"}`),
	}}
	enc, err := c.Encode(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type request struct {
	path, auth, ns, origin string
	headers                map[string]string
}

func post(t *testing.T, url string, rq request, body []byte) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+rq.path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if rq.auth != "" {
		req.Header.Set("Authorization", rq.auth)
	}
	if rq.ns != "" {
		req.Header.Set("X-Namespace", rq.ns)
	}
	if rq.origin != "" {
		req.Header.Set("Origin", rq.origin)
	}
	for k, v := range rq.headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		// Show decoded payloads' data as text, so a test can look for what it holds.
		var ps commonpb.Payloads
		if err := protojson.Unmarshal(b, &ps); err != nil {
			t.Fatalf("a 200 response that is not Payloads: %v: %s", err, b)
		}
		var text strings.Builder
		for _, p := range ps.Payloads {
			text.Write(p.Data)
		}
		return resp.StatusCode, text.String(), resp.Header
	}
	return resp.StatusCode, string(b), resp.Header
}

// TestOIDCTokens: tokens from the sandbox IdP are checked for signature, issuer, audience and
// expiry, and the user must be in an allowed group or have an allowed email.
func TestOIDCTokens(t *testing.T) {
	idp := testenv.NewOIDC(nil, nil)
	defer idp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	verifier, err := codecserver.NewOIDCVerifier(ctx, codecserver.OIDCOptions{Issuer: idp.URL(), Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	codec := newCodec(t)
	var logs bytes.Buffer
	h, err := codecserver.New(codecserver.Options{
		Codec: codec, Namespaces: []string{namespace}, CORSOrigins: []string{uiOrigin},
		OIDC: verifier, Token: token, AllowedGroups: []string{"auditors"}, AllowedEmails: []string{"carol@example.com"},
		Log: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	body := encrypted(t, codec)

	auditor := testenv.AccessTokenClaims{Subject: "u-1001", Email: "dana@example.com", Groups: []string{"engineering", "auditors"}, Audience: audience}
	mk := func(f func(*testenv.AccessTokenClaims)) string {
		c := auditor
		f(&c)
		return idp.AccessToken(c)
	}
	tests := []struct {
		name, auth, ns string
		status         int
		reason         string
	}{
		{"auditor in an allowed group", "Bearer " + idp.AccessToken(auditor), namespace, http.StatusOK, ""},
		{"allowed email, no allowed group", "Bearer " + mk(func(c *testenv.AccessTokenClaims) { c.Email, c.Groups = "carol@example.com", []string{"engineering"} }), namespace, http.StatusOK, ""},
		{"static token for scripts", "Bearer " + token, namespace, http.StatusOK, ""},
		{"expired", "Bearer " + mk(func(c *testenv.AccessTokenClaims) {
			c.IssuedAt, c.Expiry = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
		}), namespace, http.StatusUnauthorized, "expired"},
		{"wrongly signed", "Bearer " + idp.ForgedAccessToken(auditor), namespace, http.StatusUnauthorized, "signature"},
		{"wrong audience", "Bearer " + mk(func(c *testenv.AccessTokenClaims) { c.Audience = "another-app" }), namespace, http.StatusUnauthorized, "audience"},
		{"user outside the allowed groups", "Bearer " + mk(func(c *testenv.AccessTokenClaims) { c.Email, c.Groups = "mallory@example.com", []string{"engineering"} }), namespace, http.StatusForbidden, "may not read payloads"},
		{"no groups claim at all", "Bearer " + mk(func(c *testenv.AccessTokenClaims) { c.Email, c.Groups = "eve@example.com", nil }), namespace, http.StatusForbidden, "may not read payloads"},
		{"not a JWT", "Bearer not-a-token", namespace, http.StatusUnauthorized, "access token refused"},
		{"no credentials", "", namespace, http.StatusUnauthorized, "no credentials"},
		{"not Bearer", "Basic " + token, namespace, http.StatusUnauthorized, "Bearer"},
		{"another namespace", "Bearer " + idp.AccessToken(auditor), "other-team", http.StatusForbidden, "not served here"},
		{"no namespace", "Bearer " + idp.AccessToken(auditor), "", http.StatusBadRequest, "X-Namespace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, hdr := post(t, srv.URL, request{path: "/decode", auth: tc.auth, ns: tc.ns, origin: uiOrigin}, body)
			if code != tc.status || !strings.Contains(out, tc.reason) {
				t.Fatalf("status %d %q; expected %d mentioning %q", code, out, tc.status, tc.reason)
			}
			if hdr.Get("Access-Control-Allow-Origin") != uiOrigin {
				t.Errorf("no CORS grant for the Web UI's origin")
			}
			if (code == http.StatusOK) != strings.Contains(out, "plaintext-marker") {
				t.Errorf("status %d but body %s", code, out)
			}
		})
	}
	// The audit trail of reads names the person, the namespace and the step decoded.
	if !strings.Contains(logs.String(), `who="dana@example.com (u-1001)"`) || !strings.Contains(logs.String(), "firebreak/compromised-dev-key/alice/revoke_tokens") ||
		!strings.Contains(logs.String(), "namespace="+namespace) || !strings.Contains(logs.String(), "refused") {
		t.Errorf("log lacks the reader, the namespace, the step or the refusals:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "plaintext-marker") {
		t.Errorf("the log holds a payload's value:\n%s", logs.String())
	}
}

func TestEncodeOffUnlessEnabled(t *testing.T) {
	codec := newCodec(t)
	plain, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"x"`)}}})
	for _, allow := range []bool{false, true} {
		h, err := codecserver.New(codecserver.Options{Codec: codec, Namespaces: []string{namespace}, Token: token, AllowEncode: allow})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		code, out, _ := post(t, srv.URL, request{path: "/encode", auth: "Bearer " + token, ns: namespace}, plain)
		srv.Close()
		if want := map[bool]int{false: http.StatusForbidden, true: http.StatusOK}[allow]; code != want {
			t.Errorf("allow_encode=%v: status %d %s; expected %d", allow, code, out, want)
		}
		if !allow && !strings.Contains(out, "--allow-encode") {
			t.Errorf("the refusal does not say how to enable /encode: %s", out)
		}
	}
}

func TestProxyIdentity(t *testing.T) {
	codec := newCodec(t)
	body := encrypted(t, codec)
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		user    string
		groups  string
		status  int
	}{
		{"loopback proxy, allowed group", nil, "dana@example.com", "auditors", http.StatusOK},
		{"loopback proxy, other group", nil, "mallory@example.com", "engineering", http.StatusForbidden},
		{"header from an untrusted address", []netip.Prefix{netip.MustParsePrefix("10.9.9.9/32")}, "dana@example.com", "auditors", http.StatusUnauthorized},
		{"no header", nil, "", "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := codecserver.New(codecserver.Options{Codec: codec, Namespaces: []string{namespace}, AllowedGroups: []string{"auditors"},
				Proxy: &codecserver.Proxy{UserHeader: "X-Forwarded-Email", GroupsHeader: "X-Forwarded-Groups", Trusted: tc.trusted}})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			hd := map[string]string{}
			if tc.user != "" {
				hd["X-Forwarded-Email"], hd["X-Forwarded-Groups"] = tc.user, tc.groups
			}
			if code, out, _ := post(t, srv.URL, request{path: "/decode", ns: namespace, headers: hd}, body); code != tc.status {
				t.Fatalf("status %d %s; expected %d", code, out, tc.status)
			}
		})
	}
}

func TestDevMode(t *testing.T) {
	codec := newCodec(t)
	h, err := codecserver.New(codecserver.Options{Codec: codec, Namespaces: []string{"default"}, Dev: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	body := encrypted(t, codec)
	ui := "http://127.0.0.1:8233"
	if code, out, hdr := post(t, srv.URL, request{path: "/decode", ns: "default", origin: ui}, body); code != http.StatusOK || hdr.Get("Access-Control-Allow-Origin") != ui {
		t.Fatalf("dev decode from the local UI: %d %s, allow-origin %q", code, out, hdr.Get("Access-Control-Allow-Origin"))
	}
	// A page elsewhere that rebinds its name to 127.0.0.1 still sends its own Host.
	if code, out, hdr := post(t, srv.URL, request{path: "/decode", ns: "default", origin: "http://evil.example", headers: map[string]string{"Host": "evil.example"}}, body); code != http.StatusForbidden || hdr.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("rebinding page: %d %s, allow-origin %q", code, out, hdr.Get("Access-Control-Allow-Origin"))
	}
	// Preflights from other origins get no grant.
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a foreign origin got a CORS grant")
	}
	for addr, ok := range map[string]bool{"127.0.0.1:8888": true, "[::1]:0": true, "localhost:9": true, "0.0.0.0:8888": false, ":8888": false, "10.0.0.5:8888": false} {
		if err := codecserver.CheckDevListen(addr); (err == nil) != ok {
			t.Errorf("CheckDevListen(%q) = %v; expected ok=%v", addr, err, ok)
		}
	}
}

func TestNewRefusesUnsafeOptions(t *testing.T) {
	codec := newCodec(t)
	for _, tc := range []struct {
		name string
		o    codecserver.Options
		want error
	}{
		{"no namespace", codecserver.Options{Codec: codec, Token: token}, codecserver.ErrNoNamespace},
		{"no authentication", codecserver.Options{Codec: codec, Namespaces: []string{namespace}}, codecserver.ErrNoAuth},
		{"proxy with nobody allowed", codecserver.Options{Codec: codec, Namespaces: []string{namespace}, Proxy: &codecserver.Proxy{UserHeader: "X-User"}}, codecserver.ErrNoAllowList},
	} {
		if _, err := codecserver.New(tc.o); err != tc.want {
			t.Errorf("%s: %v; expected %v", tc.name, err, tc.want)
		}
	}
}

// TestDecodeIsScopedToTheNamespace: a payload a worker of another namespace sealed (with the
// same key) does not decode for this one; one sealed for this namespace, or before namespaces
// were bound, does.
func TestDecodeIsScopedToTheNamespace(t *testing.T) {
	codec := newCodec(t)
	h, err := codecserver.New(codecserver.Options{Codec: codec.Reader(), Namespaces: []string{namespace}, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	rq := request{path: "/decode", auth: "Bearer " + token, ns: namespace}
	if code, out, _ := post(t, srv.URL, rq, encrypted(t, codec.WithNamespace("firebreak-staging"))); code != http.StatusBadRequest || !strings.Contains(out, "namespace") {
		t.Errorf("another namespace's payload: status %d %s; expected 400", code, out)
	}
	for name, c := range map[string]*workflows.Codec{"this namespace": codec.WithNamespace(namespace), "no namespace (before binding)": codec} {
		if code, out, _ := post(t, srv.URL, rq, encrypted(t, c)); code != http.StatusOK || !strings.Contains(out, "plaintext-marker") {
			t.Errorf("%s: status %d %s; expected it decoded", name, code, out)
		}
	}
}

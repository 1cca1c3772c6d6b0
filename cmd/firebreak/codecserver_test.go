package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/firebreak-dev/firebreak/workflows"
)

func TestCodecServer(t *testing.T) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	codec, err := workflows.NewCodec("k1", map[string][]byte{"k1": key})
	if err != nil {
		t.Fatal(err)
	}
	const token = "0123456789abcdef0123"
	const origin = "http://localhost:8233"
	srv := httptest.NewServer(codecServerHandler(codec, token, origin))
	defer srv.Close()

	plain := &commonpb.Payloads{Payloads: []*commonpb.Payload{{
		Metadata: map[string][]byte{"encoding": []byte("json/plain")},
		Data:     []byte(`{"subject":"alice","note":"plaintext-marker"}`),
	}}}
	body, err := protojson.Marshal(plain)
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, auth string, body []byte) (int, []byte, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, resp.Header
	}

	// Round trip: encode hides the data, decode gives it back.
	code, enc, _ := post("/encode", "Bearer "+token, body)
	if code != http.StatusOK || bytes.Contains(enc, []byte("plaintext-marker")) {
		t.Fatalf("encode: %d %s", code, enc)
	}
	code, dec, _ := post("/decode", "Bearer "+token, enc)
	if code != http.StatusOK {
		t.Fatalf("decode: %d %s", code, dec)
	}
	var got commonpb.Payloads
	if err := protojson.Unmarshal(dec, &got); err != nil {
		t.Fatalf("%v: %s", err, dec)
	}
	if len(got.Payloads) != 1 || string(got.Payloads[0].Data) != string(plain.Payloads[0].Data) {
		t.Fatalf("decode gave %s; expected the original payload", dec)
	}

	tests := []struct {
		name, method, path, auth string
		body                     []byte
		status                   int
	}{
		{"no token", http.MethodPost, "/decode", "", enc, http.StatusUnauthorized},
		{"wrong token", http.MethodPost, "/decode", "Bearer wrong", enc, http.StatusUnauthorized},
		{"token without Bearer", http.MethodPost, "/decode", token, enc, http.StatusUnauthorized},
		{"unknown path", http.MethodPost, "/other", "Bearer " + token, enc, http.StatusNotFound},
		{"GET", http.MethodGet, "/decode", "Bearer " + token, nil, http.StatusNotFound},
		{"garbage body", http.MethodPost, "/decode", "Bearer " + token, []byte("{"), http.StatusBadRequest},
		{"preflight passes without a token", http.MethodOptions, "/decode", "", nil, http.StatusNoContent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, bytes.NewReader(tc.body))
			req.Header.Set("Origin", origin)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %s; expected %d", resp.StatusCode, b, tc.status)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") != origin {
				t.Errorf("no CORS header for the UI's origin")
			}
			if tc.status == http.StatusUnauthorized && strings.Contains(string(b), "alice") {
				t.Error("an unauthorised caller saw decoded data")
			}
		})
	}

	// Another origin gets no CORS grant.
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("foreign origin: %d, allow-origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestCodecServerNeedsToken(t *testing.T) {
	t.Setenv("FIREBREAK_CODEC_SERVER_TOKEN", "")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"codec-server", "--listen", "127.0.0.1:0"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "FIREBREAK_CODEC_SERVER_TOKEN") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

package chatops_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/firebreak-dev/firebreak/chatops"
)

func TestHealthAndReadiness(t *testing.T) {
	h := chatops.NewHandler(chatops.Options{Info: map[string]string{"mode": "test"}})
	cases := []struct {
		method, path string
		status       int
	}{
		{"GET", "/healthz", http.StatusOK},
		{"GET", "/readyz", http.StatusServiceUnavailable}, // no Temporal client
		{"POST", "/healthz", http.StatusMethodNotAllowed},
		{"GET", "/nope", http.StatusNotFound},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, rec.Code, tc.status)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["status"] != "ok" || body["mode"] != "test" {
		t.Fatalf("healthz body %q: %v", rec.Body.String(), err)
	}
}

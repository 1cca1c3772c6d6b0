package httpreq_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/firebreak-dev/firebreak/activities/httpreq"
)

func TestRotatorAnswers(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		want      string // the api_key answered, or "" for an error
		retryable bool
		says      string
	}{
		{"new values", 200, `{"data":{"api_key":"k2"}}`, "k2", false, ""},
		{"unavailable", 503, `{"error":"down"}`, "", true, "answered POST /rotate/x with 503"},
		{"refused", 409, `{"error":"credential locked"}`, "", false, "409 (credential locked)"},
		{"no data", 200, `{}`, "", false, "no {\"data\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gotKey, gotAuth string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotKey, gotAuth = r.Header.Get("Idempotency-Key"), r.Header.Get("Authorization")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			r := httpreq.Rotator{Services: []httpreq.Service{{Name: "svc", BaseURL: srv.URL, Headers: map[string]string{"Authorization": "Bearer t"}}}}
			if !r.HasService("svc") || r.HasService("other") {
				t.Fatal("HasService")
			}
			data, err := r.RotateSecret(context.Background(), "svc", "/rotate/x", map[string]any{"path": "p"}, "run/1")
			if gotKey != "run/1" || gotAuth != "Bearer t" {
				t.Errorf("headers: idempotency %q auth %q", gotKey, gotAuth)
			}
			if tc.want != "" {
				if err != nil || data["api_key"] != tc.want {
					t.Fatalf("%v %v, want api_key %s", data, err, tc.want)
				}
				return
			}
			var ae *temporal.ApplicationError
			if !errors.As(err, &ae) || ae.NonRetryable() == tc.retryable || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err %v, want retryable=%v saying %q", err, tc.retryable, tc.says)
			}
		})
	}
	if _, err := (httpreq.Rotator{}).RotateSecret(context.Background(), "nope", "/x", nil, ""); err == nil || !strings.Contains(err.Error(), `unknown service "nope"`) {
		t.Errorf("unknown service: %v", err)
	}
}

package httpreq_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/httpreq"
	"github.com/firebreak-dev/firebreak/testenv"
)

func TestRequest(t *testing.T) {
	rec := &testenv.Recorder{}
	edge := testenv.NewEdge(rec)
	defer edge.Close()
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/busy":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case "/away":
			http.Redirect(w, r, "http://203.0.113.9/elsewhere", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer flaky.Close()
	a := &httpreq.Activities{Services: []httpreq.Service{
		{Name: "edge", BaseURL: edge.URL(), Headers: map[string]string{"Authorization": "Bearer " + edge.Token()}},
		{Name: "edge-no-auth", BaseURL: edge.URL()},
		{Name: "flaky", BaseURL: flaky.URL},
	}}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	httpreq.Register(env, a)

	block := httpreq.RequestInput{Service: "edge", Path: "/v1/blocklist", JSON: map[string]any{"ip": "203.0.113.7", "reason": "api abuse"}, IdempotencyKey: "wf/block"}
	cases := []struct {
		name      string
		in        httpreq.RequestInput
		status    int
		errType   string
		retryable bool
		errHas    string
	}{
		{name: "block", in: block, status: http.StatusCreated},
		{name: "same key again: applied once", in: block, status: http.StatusOK},
		{name: "read back", in: httpreq.RequestInput{Service: "edge", Method: "get", Path: "/v1/blocklist/203.0.113.7", CaptureBody: true}, status: http.StatusOK},
		{name: "expected 404", in: httpreq.RequestInput{Service: "edge", Method: "GET", Path: "/v1/blocklist/198.51.100.1", ExpectStatus: []int{404}}, status: http.StatusNotFound},
		{name: "unknown service", in: httpreq.RequestInput{Service: "waf", Path: "/x"}, errType: httpreq.ErrUnknownService, errHas: "configured services: edge, edge-no-auth, flaky"},
		{name: "path leaves the service", in: httpreq.RequestInput{Service: "edge", Path: "//evil.example/x"}, errType: httpreq.ErrInvalidInput},
		{name: "dot dot", in: httpreq.RequestInput{Service: "edge", Path: "/v1/../admin"}, errType: httpreq.ErrInvalidInput},
		{name: "bad method", in: httpreq.RequestInput{Service: "edge", Method: "TRACE", Path: "/v1/blocklist"}, errType: httpreq.ErrInvalidInput},
		{name: "wrong credentials", in: httpreq.RequestInput{Service: "edge-no-auth", Path: "/v1/blocklist", JSON: map[string]any{"ip": "x"}}, errType: httpreq.ErrUnexpectedStatus, errHas: "answered 401"},
		{name: "rate limited", in: httpreq.RequestInput{Service: "flaky", Method: "GET", Path: "/busy"}, errType: "Unavailable", retryable: true},
		{name: "unavailable", in: httpreq.RequestInput{Service: "flaky", Method: "GET", Path: "/down"}, errType: "Unavailable", retryable: true},
		{name: "redirect off the allow-list", in: httpreq.RequestInput{Service: "flaky", Method: "GET", Path: "/away"}, retryable: true, errHas: "redirect to 203.0.113.9 refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := env.ExecuteActivity(httpreq.ActivityPrefix+"Request", tc.in)
			if tc.errType != "" || tc.errHas != "" {
				if err == nil {
					t.Fatal("expected an error")
				}
				if testenv.ContainsCanary(err.Error()) {
					t.Fatal("the error holds the service's credential")
				}
				var appErr *temporal.ApplicationError
				if errors.As(err, &appErr) {
					if tc.errType != "" && appErr.Type() != tc.errType {
						t.Errorf("error type %s, want %s: %v", appErr.Type(), tc.errType, err)
					}
					if appErr.NonRetryable() == tc.retryable {
						t.Errorf("retryable=%v, want %v", !appErr.NonRetryable(), tc.retryable)
					}
				}
				if !strings.Contains(err.Error(), tc.errHas) {
					t.Errorf("error %q lacks %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var res httpreq.RequestResult
			_ = v.Get(&res)
			b, _ := json.Marshal(res)
			if res.Status != tc.status || len(res.BodySHA256) != 64 || testenv.ContainsCanary(string(b)) {
				t.Fatalf("result %s, want status %d", b, tc.status)
			}
			if tc.in.CaptureBody != (res.Body != "") {
				t.Fatalf("capture_body=%v but body %q", tc.in.CaptureBody, res.Body)
			}
		})
	}
	if got := edge.Blocked(); len(got) != 1 || got[0] != "203.0.113.7" {
		t.Fatalf("block list %v: the retried request was applied twice or not at all", got)
	}
}

// TestRequestStaysUnderItsBasePath is the security review's finding: %2e%2e in an input
// reached the service as ../../.. with the service's credentials, and ? injected a query.
// Nothing that climbs out of the base path, however encoded, reaches the service; a query
// goes only through query:, encoded.
func TestRequestStaysUnderItsBasePath(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	a := &httpreq.Activities{Services: []httpreq.Service{{Name: "api", BaseURL: srv.URL + "/api/"}}}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	httpreq.Register(env, a)
	for _, path := range []string{
		"/v1/blocklist/%2e%2e/%2e%2e/%2e%2e/admin",
		"/v1/blocklist/%2E%2E%2F%2E%2E%2Fadmin",
		"/v1/blocklist/%252e%252e/admin",
		"/v1/blocklist/..",
		"/v1/blocklist/.",
		"/v1/blocklist/..%5cadmin",
		"/v1/blocklist/1.2.3.4?drop=all",
		"/v1/blocklist/1.2.3.4#x",
		"/v1//admin",
		"/v1/%2525252e%2525252e/admin",
		"/v1/blocklist/..;/admin",
		"/v1/blocklist/%2e%2e%3b/admin",
		"/v1/%" + strings.Repeat("25", 12) + "2e/admin",
	} {
		_, err := env.ExecuteActivity(httpreq.ActivityPrefix+"Request", httpreq.RequestInput{Service: "api", Method: "GET", Path: path})
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != httpreq.ErrInvalidInput {
			t.Errorf("path %q: %v; want it refused as invalid input", path, err)
		}
	}
	if len(got) != 0 {
		t.Fatalf("the service was called: %q", got)
	}
	for _, tc := range []struct {
		path  string
		query map[string]any
		want  string
	}{
		{"/v1/blocklist/203.0.113.0%2F24", nil, "/api/v1/blocklist/203.0.113.0%2F24?"},
		{"/v1/blocklist", map[string]any{"ip": "1.2.3.4&drop=all", "ttl": int64(60)}, "/api/v1/blocklist?ip=1.2.3.4%26drop%3Dall&ttl=60"},
	} {
		got = nil
		if _, err := env.ExecuteActivity(httpreq.ActivityPrefix+"Request", httpreq.RequestInput{Service: "api", Method: "GET", Path: tc.path, Query: tc.query}); err != nil {
			t.Fatalf("path %q: %v", tc.path, err)
		}
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("path %q query %v reached the service as %q; want %q", tc.path, tc.query, got, tc.want)
		}
	}
}

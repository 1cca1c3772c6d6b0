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

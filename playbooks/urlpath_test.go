package playbooks_test

import (
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// TestAPIAbuseSourceIPStaysInItsSegment: api-abuse's source_ip must look like an address or
// a CIDR block, and whatever reaches the path of http.request is path-escaped, so it cannot
// climb out of /v1/blocklist/ or add a query.
func TestAPIAbuseSourceIPStaysInItsSegment(t *testing.T) {
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := lib.Get("api-abuse")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"%2e%2e/%2e%2e/admin", "../../admin", "1.2.3.4?drop=all", "1.2.3.4#x"} {
		if _, err := p.BindInputs(map[string]string{"subject": "alice", "source_ip": bad}); err == nil {
			t.Errorf("source_ip %q was accepted", bad)
		}
	}
	for _, good := range []string{"203.0.113.7", "203.0.113.0/24", "2001:db8::1", "2001:db8::/32"} {
		if _, err := p.BindInputs(map[string]string{"subject": "alice", "source_ip": good}); err != nil {
			t.Errorf("source_ip %q refused: %v", good, err)
		}
	}
	st, ok := p.Step("verify_source_blocked")
	if !ok {
		t.Fatal("api-abuse has no verify_source_blocked step")
	}
	var path string
	for _, a := range st.With {
		if a.Name == "path" {
			path = a.Expr
		}
	}
	// A plan made by hand may carry any input: the escaping is in the compiled expression.
	var ev playbooks.Evaluator
	v, err := ev.Eval(path, playbooks.Scope{Inputs: map[string]any{"source_ip": "../../admin?x=1#f"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.(string); got != "/v1/blocklist/..%2F..%2Fadmin%3Fx=1%23f" || strings.Count(got, "/") != 3 {
		t.Errorf("path %q; want the input escaped inside one segment", got)
	}
}

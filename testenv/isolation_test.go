package testenv

import (
	"net/http"
	"strings"
	"testing"
)

// The sandbox's HTTP client refuses anything but loopback, whatever a client is configured with.
func TestSandboxClientReachesOnlyLoopback(t *testing.T) {
	for _, u := range []string{"http://203.0.113.10/v1/sys/health", "https://iam.amazonaws.com/", "http://10.0.0.1:8200/"} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if _, err := sandboxHTTP.Do(req); err == nil || !strings.Contains(err.Error(), "drills reach only the loopback sandbox") {
			t.Errorf("%s: %v", u, err)
		}
	}
}

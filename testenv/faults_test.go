package testenv_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/testenv"
)

func TestParseFault(t *testing.T) {
	cases := []struct {
		in      string
		want    string
		wantErr string
	}{
		{"vault-down", "vault-down=1.5s", ""},
		{"vault-down=3s", "vault-down=3s", ""},
		{"vault-slow", "vault-slow=250ms", ""},
		{"vault-slow=10ms", "vault-slow=10ms", ""},
		{"iam-throttle", "iam-throttle=4", ""},
		{"iam-throttle=7", "iam-throttle=7", ""},
		{"slack-429=3", "slack-429=3", ""},
		{"pagerduty-down", "pagerduty-down", ""},
		{"pagerduty-down=1s", "", "takes no parameter"},
		{"vault-dwn", "", `unknown fault "vault-dwn": expected one of vault-down`},
		{"vault-down=soon", "", `expected a positive duration such as 2s after =, found "soon"`},
		{"iam-throttle=-1", "", `expected a positive count of failed requests after =, found "-1"`},
	}
	for _, tc := range cases {
		f, err := testenv.ParseFault(tc.in)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseFault(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseFault(%q): %v", tc.in, err)
		case tc.wantErr == "" && f.String() != tc.want:
			t.Errorf("ParseFault(%q) = %s, want %s", tc.in, f, tc.want)
		}
	}
}

// TestInjectAndClear drives each fault with plain HTTP requests and checks that the service
// fails as documented, that the injection counts exactly the requests it answered, and that
// after Clear the service works again and the report names when it recovered.
func TestInjectAndClear(t *testing.T) {
	sb := testenv.NewSandbox(nil)
	defer sb.Close()
	get := func(t *testing.T, u string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	vaultGet := func(t *testing.T) int {
		return get(t, sb.Vault.URL()+"/v1/sys/policies/acl/default", map[string]string{"X-Vault-Token": sb.Vault.RootToken()}).StatusCode
	}
	iamPost := func(t *testing.T) int {
		resp, err := http.PostForm(sb.IAM.URL(), url.Values{"Action": {"GetUser"}, "Version": {"2010-05-08"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	slackPost := func(t *testing.T) (int, string) {
		resp, err := http.PostForm(sb.Slack.URL()+"/api/auth.test", url.Values{"token": {sb.Slack.BotToken()}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	pdGet := func(t *testing.T) int {
		return get(t, sb.PagerDuty.URL()+"/incidents/"+testenv.DrillIncident, map[string]string{"Authorization": "Token token=" + sb.PagerDuty.Token()}).StatusCode
	}

	t.Run("vault-down", func(t *testing.T) {
		inj, err := sb.Inject(testenv.Fault{Kind: testenv.FaultVaultDown, For: 150 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if c := vaultGet(t); c != http.StatusServiceUnavailable {
			t.Fatalf("vault while down answered %d, want 503", c)
		}
		// Vault recovers by itself once the window has passed: poll with a deadline.
		deadline := time.Now().Add(5 * time.Second)
		for vaultGet(t) != http.StatusOK {
			if time.Now().After(deadline) {
				t.Fatal("vault did not recover after its down window")
			}
		}
		inj.Clear()
		rep := inj.Report()
		if rep.Hits < 1 || rep.RecoveredAt.IsZero() || rep.DelayMS < 150 {
			t.Errorf("report %+v: want ≥1 hit, a recovery time and a delay of at least the 150ms window", rep)
		}
	})
	t.Run("vault-slow", func(t *testing.T) {
		inj, _ := sb.Inject(testenv.Fault{Kind: testenv.FaultVaultSlow, Latency: 60 * time.Millisecond})
		start := time.Now()
		if c := vaultGet(t); c != http.StatusOK {
			t.Fatalf("slow vault answered %d, want 200", c)
		}
		if el := time.Since(start); el < 60*time.Millisecond {
			t.Errorf("slow vault answered in %s, want at least the 60ms latency", el)
		}
		inj.Clear()
		if rep := inj.Report(); rep.Hits != 1 || rep.DelayMS != 60 {
			t.Errorf("report %+v: want 1 hit and 60ms delay", rep)
		}
	})
	t.Run("iam-throttle", func(t *testing.T) {
		inj, _ := sb.Inject(testenv.Fault{Kind: testenv.FaultIAMThrottle, Count: 2})
		for i := 0; i < 2; i++ {
			if c := iamPost(t); c != http.StatusBadRequest {
				t.Fatalf("throttled request %d answered %d, want 400 Throttling", i, c)
			}
		}
		iamPost(t)
		if n := inj.Hits(); n != 2 {
			t.Fatalf("after 3 requests the fault answered %d, want exactly the 2 it was given", n)
		}
		inj.Clear()
		if rep := inj.Report(); rep.Hits != 2 || rep.Service != "iam" {
			t.Errorf("report %+v: want 2 hits on iam", rep)
		}
	})
	t.Run("slack-429", func(t *testing.T) {
		inj, _ := sb.Inject(testenv.Fault{Kind: testenv.FaultSlack429, Count: 1, For: 2 * time.Second})
		if c, ra := slackPost(t); c != http.StatusTooManyRequests || ra != "2" {
			t.Fatalf("rate-limited call answered %d Retry-After %q, want 429 and 2", c, ra)
		}
		if c, _ := slackPost(t); c != http.StatusOK {
			t.Fatalf("call after the limit answered %d, want 200", c)
		}
		inj.Clear()
		rep := inj.Report()
		if rep.Hits != 1 || rep.RecoveredAt.IsZero() {
			t.Errorf("report %+v: want 1 hit and a recovery", rep)
		}
	})
	t.Run("pagerduty-down", func(t *testing.T) {
		inj, _ := sb.Inject(testenv.Fault{Kind: testenv.FaultPagerDutyDown})
		for i := 0; i < 3; i++ {
			if c := pdGet(t); c != http.StatusServiceUnavailable {
				t.Fatalf("pagerduty while down answered %d, want 503", c)
			}
		}
		inj.Clear()
		if c := pdGet(t); c != http.StatusOK {
			t.Fatalf("pagerduty after clear answered %d, want 200", c)
		}
		rep := inj.Report()
		if rep.Hits != 3 || rep.RecoveredAt.IsZero() || rep.RecoveredAt.Before(rep.LastHit) {
			t.Errorf("report %+v: want 3 hits and a recovery after the last", rep)
		}
	})
	if _, err := sb.Inject(testenv.Fault{Kind: "dns-down"}); err == nil {
		t.Error("Inject accepted an unknown fault kind")
	}
}

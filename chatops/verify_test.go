package chatops_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/chatops"
)

// bodyMarker is in every request body of these tests; it must never reach the logs.
const bodyMarker = "BODYMARKER-fbcanary-do-not-log"

func TestSlackVerification(t *testing.T) {
	form := url.Values{"command": {"/firebreak"}, "text": {"help " + bodyMarker}, "user_id": {"U0BOB"}, "response_url": {"http://127.0.0.1:1/"}}
	body := []byte(form.Encode())
	big := append([]byte("text="), bytes.Repeat([]byte("a"), chatops.MaxBodyBytes)...)
	now := time.Date(2026, 11, 23, 15, 4, 5, 0, time.UTC)
	cases := []struct {
		name   string
		body   []byte
		sign   func(r *http.Request, body []byte)
		status int
	}{
		{"valid", body, func(r *http.Request, b []byte) { signSlack(r, signingSecret, b, now) }, http.StatusOK},
		{"valid, four minutes old", body, func(r *http.Request, b []byte) { signSlack(r, signingSecret, b, now.Add(-4*time.Minute)) }, http.StatusOK},
		{"wrong secret", body, func(r *http.Request, b []byte) { signSlack(r, "another-secret", b, now) }, http.StatusUnauthorized},
		{"stale", body, func(r *http.Request, b []byte) { signSlack(r, signingSecret, b, now.Add(-6*time.Minute)) }, http.StatusUnauthorized},
		{"from the future", body, func(r *http.Request, b []byte) { signSlack(r, signingSecret, b, now.Add(6*time.Minute)) }, http.StatusUnauthorized},
		{"replayed outside the window", body, func(r *http.Request, b []byte) {
			// A request captured an hour ago, signature and timestamp intact.
			signSlack(r, signingSecret, b, now.Add(-time.Hour))
		}, http.StatusUnauthorized},
		{"body altered", body, func(r *http.Request, b []byte) { signSlack(r, signingSecret, append([]byte("x"), b...), now) }, http.StatusUnauthorized},
		{"timestamp altered", body, func(r *http.Request, b []byte) {
			signSlack(r, signingSecret, b, now)
			r.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now.Unix()-1, 10))
		}, http.StatusUnauthorized},
		{"missing signature", body, func(r *http.Request, b []byte) {
			signSlack(r, signingSecret, b, now)
			r.Header.Del("X-Slack-Signature")
		}, http.StatusUnauthorized},
		{"missing timestamp", body, func(r *http.Request, b []byte) {
			signSlack(r, signingSecret, b, now)
			r.Header.Del("X-Slack-Request-Timestamp")
		}, http.StatusUnauthorized},
		{"not v0", body, func(r *http.Request, b []byte) {
			signSlack(r, signingSecret, b, now)
			r.Header.Set("X-Slack-Signature", strings.Replace(r.Header.Get("X-Slack-Signature"), "v0=", "v1=", 1))
		}, http.StatusUnauthorized},
		{"not hex", body, func(r *http.Request, b []byte) {
			signSlack(r, signingSecret, b, now)
			r.Header.Set("X-Slack-Signature", "v0=zz")
		}, http.StatusUnauthorized},
		{"oversized", big, func(r *http.Request, b []byte) { signSlack(r, signingSecret, b, now) }, http.StatusRequestEntityTooLarge},
	}
	for _, path := range []string{"/slack/commands", "/slack/interactions"} {
		for _, tc := range cases {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				h := newHarness(t)
				h.now = now
				r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(tc.body))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				tc.sign(r, tc.body)
				rec := httptest.NewRecorder()
				h.srv.ServeHTTP(rec, r)
				h.srv.Wait()
				want := tc.status
				if path == "/slack/interactions" && want == http.StatusOK {
					want = http.StatusBadRequest // signed, but not an interaction payload
				}
				if rec.Code != want {
					t.Fatalf("status %d, want %d; body %q", rec.Code, want, rec.Body.String())
				}
				if want != http.StatusOK {
					if n := h.fake.callCount(); n != 0 {
						t.Errorf("a rejected request made %d Temporal calls; want none", n)
					}
					if !strings.Contains(h.logs.String(), "request rejected") {
						t.Errorf("rejection not logged; logs: %s", h.logs.String())
					}
				}
				if strings.Contains(h.logs.String(), bodyMarker) || strings.Contains(h.logs.String(), "aaaaaaaa") {
					t.Errorf("the body reached the logs: %s", h.logs.String())
				}
				if strings.Contains(h.logs.String(), signingSecret) {
					t.Errorf("the signing secret reached the logs")
				}
			})
		}
	}
}

func TestSlackUnconfiguredRefusesEverything(t *testing.T) {
	h := newHarness(t, func(o *chatops.Options) { o.Config.Slack.SigningSecret = "" })
	rec := h.command(t, "U0BOB", "/firebreak", "help")
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status %d with no signing secret configured; want 401", rec.Code)
	}
}

func pdSign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

func TestPagerDutyVerification(t *testing.T) {
	body := []byte(`{"event":{"id":"01EV","event_type":"incident.annotated","resource_type":"incident","data":{"id":"PINC001","title":"` + bodyMarker + `"}}}`)
	big := append([]byte(`{"event":{"event_type":"x","pad":"`), bytes.Repeat([]byte("a"), chatops.MaxBodyBytes)...)
	good := pdSign(pdSecret, body)
	cases := []struct {
		name, header string
		body         []byte
		status       int
	}{
		{"valid", good, body, http.StatusOK},
		{"valid among several, spaces after commas", pdSign("old-secret", body) + ", " + good, body, http.StatusOK},
		{"valid among several, no spaces", pdSign("old-secret", body) + "," + good, body, http.StatusOK},
		{"wrong secret", pdSign("another", body), body, http.StatusUnauthorized},
		{"replayed onto another body", good, append([]byte(" "), body...), http.StatusUnauthorized},
		{"missing header", "", body, http.StatusUnauthorized},
		{"no v1 signature", "v2=" + strings.TrimPrefix(good, "v1="), body, http.StatusUnauthorized},
		{"oversized", pdSign(pdSecret, big), big, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			r := httptest.NewRequest(http.MethodPost, "/pagerduty/webhook", bytes.NewReader(tc.body))
			if tc.header != "" {
				r.Header.Set("X-PagerDuty-Signature", tc.header)
			}
			rec := httptest.NewRecorder()
			h.srv.ServeHTTP(rec, r)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d; body %q", rec.Code, tc.status, rec.Body.String())
			}
			if n := h.fake.callCount(); n != 0 {
				t.Errorf("made %d Temporal calls; want none (rejected or not a trigger)", n)
			}
			if tc.status != http.StatusOK && !strings.Contains(h.logs.String(), "request rejected") {
				t.Errorf("rejection not logged; logs: %s", h.logs.String())
			}
			if strings.Contains(h.logs.String(), bodyMarker) || strings.Contains(h.logs.String(), pdSecret) {
				t.Errorf("the body or the secret reached the logs: %s", h.logs.String())
			}
		})
	}
}

func TestVerifySlackErrors(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	if err := chatops.VerifySlack(h, nil, "s", now); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing headers: %v, want a missing-header error", err)
	}
	if err := chatops.VerifySlack(h, nil, "", now); err != chatops.ErrNotConfigured {
		t.Errorf("no secret: %v, want ErrNotConfigured", err)
	}
}

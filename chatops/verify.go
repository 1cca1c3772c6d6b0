package chatops

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBodyBytes is the largest request body accepted; larger ones are answered 413 unread.
const MaxBodyBytes = 1 << 20

// SlackReplayWindow is how far a Slack request timestamp may be from now.
const SlackReplayWindow = 5 * time.Minute

// Verification errors. Each names what was expected; none carries the body or a signature.
var (
	// ErrTooLarge is returned for a body over MaxBodyBytes.
	ErrTooLarge = errors.New("request body larger than 1 MiB")
	// ErrNotConfigured is returned when no secret is configured to verify with.
	ErrNotConfigured = errors.New("no signing secret configured")
	// ErrMissingSignature is returned when a signature or timestamp header is absent.
	ErrMissingSignature = errors.New("signature or timestamp header missing")
	// ErrBadSignature is returned when no signature matches the body.
	ErrBadSignature = errors.New("signature does not match the body")
	// ErrStale is returned when a Slack timestamp is outside the replay window.
	ErrStale = errors.New("request timestamp outside the five-minute replay window")
)

// readBody reads at most MaxBodyBytes; a longer body is ErrTooLarge.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, ErrTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	if len(b) > MaxBodyBytes {
		return nil, ErrTooLarge
	}
	return b, nil
}

// VerifySlack checks Slack's v0 request signature: HMAC-SHA256 with the signing secret over
// "v0:" + X-Slack-Request-Timestamp + ":" + body, compared in constant time, with the
// timestamp no more than SlackReplayWindow from now. It does the same as
// slack.NewSecretsVerifier with an injectable clock, so replay tests need no waiting.
func VerifySlack(h http.Header, body []byte, secret string, now time.Time) error {
	if secret == "" {
		return ErrNotConfigured
	}
	sig, ts := h.Get("X-Slack-Signature"), h.Get("X-Slack-Request-Timestamp")
	if sig == "" || ts == "" {
		return ErrMissingSignature
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: X-Slack-Request-Timestamp: expected Unix seconds, found %d characters that are not", ErrMissingSignature, len(ts))
	}
	if d := now.Sub(time.Unix(secs, 0)); d > SlackReplayWindow || d < -SlackReplayWindow {
		return fmt.Errorf("%w: timestamp is %s from now", ErrStale, d.Round(time.Second))
	}
	hexSig, ok := strings.CutPrefix(sig, "v0=")
	if !ok {
		return fmt.Errorf("%w: expected a v0= signature", ErrBadSignature)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: expected 64 hex digits", ErrBadSignature)
	}
	if !hmac.Equal(got, SlackSignature(secret, ts, body)) {
		return ErrBadSignature
	}
	return nil
}

// SlackSignature is the v0 HMAC of a request; tests and the sandbox sign with it.
func SlackSignature(secret, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + timestamp + ":"))
	mac.Write(body)
	return mac.Sum(nil)
}

// VerifyPagerDuty checks a PagerDuty v3 X-PagerDuty-Signature header: one or more
// comma-separated "v1=<hex HMAC-SHA256 of the body>" signatures (PagerDuty sends several while a
// secret is being rotated; spaces after commas are tolerated); one must match, compared in
// constant time.
func VerifyPagerDuty(h http.Header, body []byte, secret string) error {
	if secret == "" {
		return ErrNotConfigured
	}
	header := h.Get("X-PagerDuty-Signature")
	if header == "" {
		return ErrMissingSignature
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	want := mac.Sum(nil)
	seen := 0
	for _, part := range strings.Split(header, ",") {
		v, ok := strings.CutPrefix(strings.TrimSpace(part), "v1=")
		if !ok {
			continue
		}
		sig, err := hex.DecodeString(v)
		if err != nil {
			continue
		}
		seen++
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	if seen == 0 {
		return fmt.Errorf("%w: expected at least one v1= signature", ErrMissingSignature)
	}
	return ErrBadSignature
}

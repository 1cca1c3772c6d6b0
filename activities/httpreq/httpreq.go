// Package httpreq is the http.request action: a call to an HTTP API that has no integration of
// its own (a WAF's block list, a gateway's rate limits, an internal admin API). Playbooks name a
// service, never a host: each service's base URL and credentials come from configuration, and
// only configured services can be reached — the allow-list. Credentials stay inside the
// activity; results carry the status and a digest of the response, and the body only when the
// playbook asks for it.
package httpreq

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
)

// ActivityPrefix prefixes the names of this package's activities in a worker.
const ActivityPrefix = "http."

// Error types.
const (
	ErrUnknownService   = "UnknownService"
	ErrInvalidInput     = "InvalidInput"
	ErrUnexpectedStatus = "UnexpectedStatus"
)

// maxBody bounds how much of a response is read; capturedBody how much is returned.
const (
	maxBody      = 1 << 20
	capturedBody = 4 << 10
)

// Service is one API a playbook may call.
type Service struct {
	Name    string            `json:"name"`
	BaseURL string            `json:"base_url"` // scheme://host[:port][/prefix]
	Headers map[string]string `json:"headers"`  // e.g. Authorization; never logged or returned
}

// Activities makes HTTP requests to configured services only.
type Activities struct {
	Client   *http.Client // nil: a client with a 30 s timeout
	Services []Service
}

// Register registers the activities on a worker.
func Register(r worker.ActivityRegistry, a *Activities) {
	r.RegisterActivityWithOptions(a, activity.RegisterOptions{Name: ActivityPrefix})
}

// RequestInput is the input of Request.
type RequestInput struct {
	Service        string         `json:"service"`
	Method         string         `json:"method"`
	Path           string         `json:"path"`
	Query          map[string]any `json:"query,omitempty"`
	JSON           map[string]any `json:"json"`
	ExpectStatus   []int          `json:"expect_status"`
	CaptureBody    bool           `json:"capture_body"`
	IdempotencyKey string         `json:"idempotency_key"`
}

// RequestResult is what the service answered.
type RequestResult struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	BodySHA256  string `json:"body_sha256"`
	Body        string `json:"body"` // first 4 KiB, only with capture_body
}

// Request calls the service. The idempotency key goes in the Idempotency-Key header, so an
// API that honours it applies a retried request once. 429 and 5xx are retried (honouring
// Retry-After); any other status outside expect_status (default: 2xx) fails for good.
func (a *Activities) Request(ctx context.Context, in RequestInput) (RequestResult, error) {
	svc, ok := a.service(in.Service)
	if !ok {
		return RequestResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("http.request: unknown service %q; configured services: %s (only configured services can be reached)", in.Service, a.names()), ErrUnknownService, nil)
	}
	method := strings.ToUpper(in.Method)
	if method == "" {
		method = http.MethodPost
	}
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return RequestResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("http.request: method %q: expected GET, POST, PUT, PATCH or DELETE", in.Method), ErrInvalidInput, nil)
	}
	target, err := join(svc.BaseURL, in.Path, in.Query)
	if err != nil {
		return RequestResult{}, temporal.NewNonRetryableApplicationError("http.request: "+err.Error(), ErrInvalidInput, nil)
	}
	var body io.Reader
	if in.JSON != nil {
		b, err := json.Marshal(in.JSON)
		if err != nil {
			return RequestResult{}, temporal.NewNonRetryableApplicationError("http.request: json body: "+err.Error(), ErrInvalidInput, nil)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return RequestResult{}, temporal.NewNonRetryableApplicationError("http.request: "+err.Error(), ErrInvalidInput, nil)
	}
	if in.JSON != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if in.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", in.IdempotencyKey)
	}
	for k, v := range svc.Headers {
		req.Header.Set(k, v)
	}
	resp, err := a.client(svc).Do(req)
	if err != nil {
		// The error names the URL, never the headers.
		return RequestResult{}, fmt.Errorf("http.request: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return RequestResult{}, fmt.Errorf("http.request %s %s: reading the answer: %w", method, target, err)
	}
	sum := sha256.Sum256(raw)
	res := RequestResult{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), BodySHA256: hex.EncodeToString(sum[:])}
	if in.CaptureBody {
		res.Body = string(raw[:min(len(raw), capturedBody)])
	}
	if expected(resp.StatusCode, in.ExpectStatus) {
		return res, nil
	}
	msg := fmt.Sprintf("http.request %s %s answered %d", method, svc.Name+in.Path, resp.StatusCode)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		var delay time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			delay = time.Duration(s) * time.Second
		}
		return RequestResult{}, temporal.NewApplicationErrorWithOptions(msg, "Unavailable", temporal.ApplicationErrorOptions{NextRetryDelay: delay})
	}
	return RequestResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s; expected %s", msg, expectText(in.ExpectStatus)), ErrUnexpectedStatus, nil)
}

func (a *Activities) service(name string) (Service, bool) {
	for _, s := range a.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

func (a *Activities) names() string {
	var out []string
	for _, s := range a.Services {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// client refuses redirects that leave the service's host: the allow-list holds for every hop.
func (a *Activities) client(svc Service) *http.Client {
	base := a.Client
	if base == nil {
		base = &http.Client{Timeout: 30 * time.Second}
	}
	c := *base
	host := ""
	if u, err := url.Parse(svc.BaseURL); err == nil {
		host = u.Host
	}
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != host {
			return fmt.Errorf("redirect to %s refused: only %s is configured for service %s", req.URL.Host, host, svc.Name)
		}
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		return nil
	}
	return &c
}

// join appends path to the service's base URL, refusing anything that would leave it: a
// host, a scheme, "." or ".." segments however they are encoded (%2e%2e, %252e%252e), a
// backslash, or a query or fragment written into the path (query parameters go in query,
// encoded here). Each segment is sent escaped as it was decoded, so %2F inside an
// interpolated value stays inside its segment.
func join(base, path string, query map[string]any) (string, error) {
	b, err := url.Parse(base)
	if err != nil || (b.Scheme != "http" && b.Scheme != "https") || b.Host == "" {
		return "", fmt.Errorf("service base URL %q: expected http(s)://host[:port][/prefix]", base)
	}
	if !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("path %q: expected it to start with /", path)
	}
	if strings.ContainsAny(path, "?#") {
		return "", fmt.Errorf("path %q: expected a path without ? or # (put query parameters under query:)", path)
	}
	basePath := strings.TrimSuffix(b.Path, "/")
	var decoded, escaped []string
	segs := strings.Split(path[1:], "/")
	for i, seg := range segs {
		if seg == "" && i < len(segs)-1 {
			return "", fmt.Errorf("path %q: expected no empty segment (//)", path)
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return "", fmt.Errorf("path %q: segment %q is not valid percent-encoding", path, seg)
		}
		if err := plainSegment(dec); err != nil {
			return "", fmt.Errorf("path %q: %w; expected a path under the service's base path %q", path, err, basePath+"/")
		}
		decoded = append(decoded, dec)
		escaped = append(escaped, url.PathEscape(dec))
	}
	b.Path = basePath + "/" + strings.Join(decoded, "/")
	b.RawPath = basePath + "/" + strings.Join(escaped, "/")
	if !strings.HasPrefix(b.Path, basePath+"/") {
		return "", fmt.Errorf("path %q leaves the base path %q", path, basePath)
	}
	b.RawQuery, b.Fragment = "", ""
	if len(query) > 0 {
		q := url.Values{}
		for _, k := range slices.Sorted(maps.Keys(query)) {
			switch v := query[k].(type) {
			case string:
				q.Set(k, v)
			case bool, int, int64, float64:
				q.Set(k, fmt.Sprint(v))
			default:
				return "", fmt.Errorf("query %s: expected a string, number or bool, found %T", k, v)
			}
		}
		b.RawQuery = q.Encode()
	}
	return b.String(), nil
}

// maxDecodeRounds bounds how often plainSegment percent-decodes a segment: one still
// changing after that many rounds is refused rather than trusted.
const maxDecodeRounds = 8

// plainSegment refuses a path segment that is, or decodes (however many times) into, a dot
// segment, a separator, a backslash or a ';' (a matrix parameter: "..;" is ".." to some
// servers): a server that decodes once more must not climb out of the base path either. It
// decodes until the segment no longer changes, and refuses one still changing after
// maxDecodeRounds rounds.
func plainSegment(seg string) error {
	orig := seg
	for round := 0; ; round++ {
		for _, part := range strings.FieldsFunc(seg, func(r rune) bool { return r == '/' || r == '\\' }) {
			if part == "." || part == ".." {
				return fmt.Errorf("segment %q climbs out of its place (a . or .. segment, however encoded)", orig)
			}
		}
		if strings.Contains(seg, "\\") {
			return fmt.Errorf("segment %q holds a backslash", orig)
		}
		if strings.Contains(seg, ";") {
			return fmt.Errorf("segment %q holds a ';' (a path parameter some servers strip, so ..; would be ..)", orig)
		}
		next, err := url.PathUnescape(seg)
		if err != nil || next == seg {
			return nil
		}
		if round >= maxDecodeRounds {
			return fmt.Errorf("segment %q still decodes to something new after %d rounds of percent-decoding; expected a plain segment", orig, maxDecodeRounds)
		}
		seg = next
	}
}

func expected(status int, want []int) bool {
	if len(want) == 0 {
		return status >= 200 && status < 300
	}
	for _, w := range want {
		if w == status {
			return true
		}
	}
	return false
}

func expectText(want []int) string {
	if len(want) == 0 {
		return "a 2xx status"
	}
	parts := make([]string, len(want))
	for i, w := range want {
		parts[i] = strconv.Itoa(w)
	}
	return "one of " + strings.Join(parts, ", ")
}

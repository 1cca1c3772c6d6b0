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
	"net/http"
	"net/url"
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
	target, err := join(svc.BaseURL, in.Path)
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

// join appends path to the service's base URL, refusing anything that would change the host.
func join(base, path string) (string, error) {
	b, err := url.Parse(base)
	if err != nil || (b.Scheme != "http" && b.Scheme != "https") || b.Host == "" {
		return "", fmt.Errorf("service base URL %q: expected http(s)://host[:port][/prefix]", base)
	}
	if path != "" && !strings.HasPrefix(path, "/") {
		return "", fmt.Errorf("path %q: expected it to start with /", path)
	}
	p, err := url.Parse(path)
	if err != nil || p.Host != "" || p.Scheme != "" || strings.Contains(path, "..") {
		return "", fmt.Errorf("path %q: expected a path on the service, without host or ..", path)
	}
	b.Path = strings.TrimSuffix(b.Path, "/") + p.Path
	b.RawQuery = p.RawQuery
	return b.String(), nil
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

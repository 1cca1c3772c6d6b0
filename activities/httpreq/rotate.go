package httpreq

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
)

// Rotator asks configured services to rotate a credential for vault.rotate_secrets (a secret
// marked firebreak-rotate: service:NAME/PATH). It is not an activity itself: the Vault
// activity calls it, so the new values the service answers go straight into Vault and never
// into a result or the workflow's history.
//
// The protocol: firebreak POSTs {"mount", "path", "version", "idempotency_key"} as JSON to
// PATH on the service (with the service's configured headers and an Idempotency-Key header);
// the service changes the credential where it is checked and answers 200 with
// {"data": {FIELD: VALUE, …}}, the fields of the secret that now have new values. A retried
// request carries the same idempotency key, and should be answered with the same values.
type Rotator struct {
	Client   *http.Client // nil: a client with a 30 s timeout
	Services []Service
}

// HasService reports whether a service of that name is configured.
func (r Rotator) HasService(name string) bool {
	_, ok := r.acts().service(name)
	return ok
}

func (r Rotator) acts() *Activities { return &Activities{Client: r.Client, Services: r.Services} }

// RotateSecret posts body to path on service and returns the "data" map it answers. 429 and
// 5xx are retryable errors; any other non-2xx answer, or an answer without data, is
// non-retryable. Errors name the service, path and status, never a value.
func (r Rotator) RotateSecret(ctx context.Context, service, path string, body map[string]any, idempotencyKey string) (map[string]any, error) {
	a := r.acts()
	svc, ok := a.service(service)
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("rotate: unknown service %q; configured services: %s", service, a.names()), ErrUnknownService, nil)
	}
	target, err := join(svc.BaseURL, path, nil)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("rotate: "+err.Error(), ErrInvalidInput, nil)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("rotate: request body: "+err.Error(), ErrInvalidInput, nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(b))
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("rotate: "+err.Error(), ErrInvalidInput, nil)
	}
	req.Header.Set("Content-Type", "application/json")
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	for k, v := range svc.Headers {
		req.Header.Set(k, v)
	}
	resp, err := a.client(svc).Do(req)
	if err != nil {
		return nil, fmt.Errorf("rotate: service %s: %w", service, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("rotate: service %s%s: reading the answer: %w", service, path, err)
	}
	msg := fmt.Sprintf("service %s answered POST %s with %d", service, path, resp.StatusCode)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		var delay time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			delay = time.Duration(s) * time.Second
		}
		return nil, temporal.NewApplicationErrorWithOptions(msg, "Unavailable", temporal.ApplicationErrorOptions{NextRetryDelay: delay})
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The service's own error text says why; it is an error message, not a value.
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		if e.Error != "" && len(e.Error) < 300 {
			msg += " (" + e.Error + ")"
		}
		return nil, temporal.NewNonRetryableApplicationError(msg+"; expected 200 with the new values", ErrUnexpectedStatus, nil)
	}
	var ans struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil || len(ans.Data) == 0 {
		return nil, temporal.NewNonRetryableApplicationError(msg+" but no {\"data\": {FIELD: VALUE, …}} object; expected the new values", ErrUnexpectedStatus, nil)
	}
	return ans.Data, nil
}

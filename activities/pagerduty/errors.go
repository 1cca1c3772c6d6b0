package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	pd "github.com/PagerDuty/go-pagerduty"
	"go.temporal.io/sdk/temporal"
)

// Application error types the PagerDuty activities fail with, for retry policies and callers
// that inspect temporal.ApplicationError.Type().
const (
	ErrTypeUnknownIncident = "UnknownIncident" // no such incident, or the token cannot see it
	ErrTypeInvalidToken    = "InvalidToken"    // 401: the API token is wrong or revoked
	ErrTypeForbidden       = "Forbidden"       // 403: the token may not do this
	ErrTypeInvalidRequest  = "InvalidRequest"  // the request can never succeed as written
	ErrTypeRateLimited     = "RateLimited"     // retryable
	ErrTypePagerDutyError  = "PagerDutyError"  // retryable: PagerDuty is failing or unreachable
)

func nonRetryable(typ, msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, typ, nil)
}

func invalidInput(msg string) error { return nonRetryable(ErrTypeInvalidRequest, msg) }

// apiDetail is PagerDuty's own explanation of an error: its message and error strings.
func apiDetail(ae pd.APIError) string {
	if !ae.APIError.Valid {
		return http.StatusText(ae.StatusCode)
	}
	obj := ae.APIError.ErrorObject
	d := obj.Message
	if len(obj.Errors) > 0 {
		d += ": " + strings.Join(obj.Errors, "; ")
	}
	return d
}

// alreadyResolved reports whether err is PagerDuty refusing to change a resolved incident.
func alreadyResolved(err error) bool {
	var ae pd.APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || !ae.APIError.Valid {
		return false
	}
	for _, e := range ae.APIError.ErrorObject.Errors {
		if strings.Contains(strings.ToLower(e), "already resolved") {
			return true
		}
	}
	return false
}

// classify turns a go-pagerduty error from doing what into a Temporal error: retryable for
// 429, 5xx and transport failures; non-retryable, saying what to fix, for the rest.
func classify(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ae pd.APIError
	if !errors.As(err, &ae) {
		return temporal.NewApplicationError(fmt.Sprintf("pagerduty: could not %s: %v; will retry", what, err), ErrTypePagerDutyError)
	}
	switch code := ae.StatusCode; {
	case ae.NotFound():
		return nonRetryable(ErrTypeUnknownIncident, fmt.Sprintf("pagerduty: could not %s: no such incident, or the API token cannot see it (HTTP 404)", what))
	case code == http.StatusUnauthorized:
		return nonRetryable(ErrTypeInvalidToken, fmt.Sprintf("pagerduty rejected the API token (HTTP 401) to %s: configure a valid REST API token", what))
	case code == http.StatusForbidden:
		return nonRetryable(ErrTypeForbidden, fmt.Sprintf("pagerduty refused to let the API token %s (HTTP 403): use a full-access token, or give its user access to the incident's service", what))
	case code == http.StatusTooManyRequests:
		return temporal.NewApplicationError(fmt.Sprintf("pagerduty rate-limited the request to %s (HTTP 429); will retry", what), ErrTypeRateLimited)
	case code >= 500 || code == http.StatusRequestTimeout:
		return temporal.NewApplicationError(fmt.Sprintf("pagerduty answered HTTP %d to %s; will retry", code, what), ErrTypePagerDutyError)
	default:
		return nonRetryable(ErrTypeInvalidRequest, fmt.Sprintf("pagerduty refused to %s (HTTP %d): %s; check the incident and that Activities.From is the email of a PagerDuty user", what, code, apiDetail(ae)))
	}
}

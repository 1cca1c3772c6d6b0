package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	slackapi "github.com/slack-go/slack"
	"go.temporal.io/sdk/temporal"
)

// Application error types the Slack activities fail with, for retry policies and callers
// that inspect temporal.ApplicationError.Type().
const (
	ErrTypeRateLimited     = "RateLimited"     // retryable, with NextRetryDelay from Retry-After
	ErrTypeInvalidAuth     = "InvalidAuth"     // the bot token is wrong, revoked or expired
	ErrTypeMissingScope    = "MissingScope"    // the app lacks an OAuth scope
	ErrTypeChannelNotFound = "ChannelNotFound" // no such channel, or the bot cannot see it
	ErrTypeNotInChannel    = "NotInChannel"    // the bot is not a member of the channel
	ErrTypeUnknownUser     = "UnknownUser"     // no Slack user has that email address
	ErrTypeInvalidRequest  = "InvalidRequest"  // the request can never succeed as written
	ErrTypeSlackError      = "SlackError"      // retryable: Slack is failing or unreachable
)

func nonRetryable(typ, msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, typ, nil)
}

func invalidInput(msg string) error { return nonRetryable(ErrTypeInvalidRequest, msg) }

// classify turns a slack-go error from doing what into a Temporal error: retryable for rate
// limits, server errors and transport failures, non-retryable (saying what to fix) for errors
// that retrying cannot cure. Slack's error codes carry no secrets; the token never appears.
func classify(what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		return temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("slack rate-limited the request to %s: retry after %s", what, rl.RetryAfter),
			ErrTypeRateLimited, temporal.ApplicationErrorOptions{NextRetryDelay: rl.RetryAfter})
	}
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		return classifyCode(what, se)
	}
	var sc slackapi.StatusCodeError
	if errors.As(err, &sc) {
		switch {
		case sc.Code >= 500, sc.Code == http.StatusTooManyRequests, sc.Code == http.StatusRequestTimeout:
			return temporal.NewApplicationError(fmt.Sprintf("slack answered HTTP %d to %s; will retry", sc.Code, what), ErrTypeSlackError)
		default:
			return nonRetryable(ErrTypeInvalidRequest, fmt.Sprintf("slack answered HTTP %d to %s: check the Slack API URL firebreak is configured with", sc.Code, what))
		}
	}
	return temporal.NewApplicationError(fmt.Sprintf("slack: could not %s: %v; will retry", what, err), ErrTypeSlackError)
}

func classifyCode(what string, se slackapi.SlackErrorResponse) error {
	code := se.Err
	switch code {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission", "ekm_access_denied":
		return nonRetryable(ErrTypeInvalidAuth, fmt.Sprintf("slack rejected the bot token (%s) trying to %s: configure a valid bot token (xoxb-) for the workspace", code, what))
	case "missing_scope":
		needed := se.Needed
		if needed == "" {
			needed = "unknown"
		}
		return nonRetryable(ErrTypeMissingScope, fmt.Sprintf("slack app lacks an OAuth scope to %s (needed: %s): add it to the app and reinstall", what, needed))
	case "channel_not_found":
		return nonRetryable(ErrTypeChannelNotFound, fmt.Sprintf("slack could not %s: channel not found; use a channel ID the bot can see (private channels need the bot invited)", what))
	case "not_in_channel", "is_archived", "restricted_action":
		return nonRetryable(ErrTypeNotInChannel, fmt.Sprintf("slack could not %s (%s): invite the bot to the channel, or pick an active channel it may post in", what, code))
	case "users_not_found", "user_not_found":
		return nonRetryable(ErrTypeUnknownUser, fmt.Sprintf("slack could not %s: no Slack user has that email address; check the address or the user's Slack profile", what))
	case "ratelimited", "rate_limited":
		return temporal.NewApplicationError(fmt.Sprintf("slack rate-limited the request to %s; will retry", what), ErrTypeRateLimited)
	case "message_not_found", "thread_not_found", "cant_update_message", "edit_window_closed",
		"invalid_blocks", "invalid_blocks_format", "no_text", "msg_too_long", "too_many_attachments",
		"invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large", "invalid_arguments",
		"invalid_arg_name", "invalid_form_data", "unknown_method":
		return nonRetryable(ErrTypeInvalidRequest, fmt.Sprintf("slack refused to %s: %s", what, code))
	default: // internal_error, fatal_error, service_unavailable, request_timeout and the unknown
		return temporal.NewApplicationError(fmt.Sprintf("slack failed to %s: %s; will retry", what, code), ErrTypeSlackError)
	}
}

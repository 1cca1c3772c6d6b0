package awsiam

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
	"go.temporal.io/sdk/temporal"
)

// Application error types of the non-retryable errors the activities return; a workflow or
// test reads them with temporal.ApplicationError's Type.
const (
	// ErrUnknownSubject: the IAM user named in the input does not exist.
	ErrUnknownSubject = "UnknownSubject"
	// ErrAccessDenied: firebreak's IAM principal lacks a permission; the message names it.
	ErrAccessDenied = "AccessDenied"
	// ErrInvalidCredentials: AWS rejected firebreak's own credentials.
	ErrInvalidCredentials = "InvalidCredentials"
	// ErrInvalidInput: AWS or the activity rejected the input as invalid.
	ErrInvalidInput = "InvalidInput"
	// ErrKeyOwnerMismatch: an access key id in the input belongs to another user.
	ErrKeyOwnerMismatch = "KeyOwnerMismatch"
)

// apiCode returns the AWS error code of err, or "" when err is not an AWS API error.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// classify turns an error of the IAM call action (e.g. "UpdateAccessKey") made for user into
// an error Temporal understands: non-retryable ApplicationErrors for what retrying cannot fix,
// plain errors for throttling, 5xx and transport failures.
func classify(action, user string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return fmt.Errorf("iam:%s for user %q did not get an answer (will retry): %w", action, user, err)
	}
	switch ae.ErrorCode() {
	case "NoSuchEntity":
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("iam user %q not found: iam:%s answered NoSuchEntity (%s); expected the name of an existing IAM user", user, action, ae.ErrorMessage()),
			ErrUnknownSubject, err)
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess":
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("iam:%s on user %q was denied (%s); firebreak's IAM principal needs the permission iam:%s", action, user, ae.ErrorMessage(), action),
			ErrAccessDenied, err)
	case "InvalidClientTokenId", "SignatureDoesNotMatch", "MissingAuthenticationToken", "IncompleteSignature", "UnrecognizedClientException", "AuthFailure":
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("iam:%s was rejected: AWS does not accept firebreak's credentials (%s: %s); expected a valid, active access key", action, ae.ErrorCode(), ae.ErrorMessage()),
			ErrInvalidCredentials, err)
	case "ValidationError", "InvalidInput", "MalformedPolicyDocument", "LimitExceeded", "InvalidParameterValue", "InvalidAction":
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("iam:%s for user %q was rejected as invalid (%s: %s)", action, user, ae.ErrorCode(), ae.ErrorMessage()),
			ErrInvalidInput, err)
	}
	return fmt.Errorf("iam:%s for user %q failed (will retry): %w", action, user, err)
}

// invalidInput is the error for an input the activity cannot act on.
func invalidInput(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrInvalidInput, nil)
}

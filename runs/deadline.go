package runs

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DeadlineReached reports whether err ended a wait because ctx is done. The SDK gives its
// calls a deadline a little before ctx's own, so a deadline error may come back just before
// ctx is done: then it waits for ctx.
func DeadlineReached(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return true
	}
	if err == nil || !(errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded || strings.Contains(err.Error(), "deadline exceeded")) {
		return false
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return false
	}
	select {
	case <-ctx.Done():
		return true
	case <-time.After(time.Until(dl) + 2*time.Second):
		return ctx.Err() != nil
	}
}

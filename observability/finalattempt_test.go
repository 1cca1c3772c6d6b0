package observability

import (
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// TestFinalAttemptUnderScheduleToClose checks the give-up of an activity that retries without
// an attempt limit until its schedule-to-close timeout, as the reporter's outbox does: the
// attempt after which the next backoff would pass the timeout is final, earlier ones are not.
func TestFinalAttemptUnderScheduleToClose(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	backlog := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second}
	down := temporal.NewApplicationError("503 Service Unavailable", "SlackError")
	info := func(attempt int32) activity.Info {
		return activity.Info{Attempt: attempt, ScheduledTime: t0, ScheduleToCloseTimeout: time.Hour, RetryPolicy: backlog}
	}
	for _, tt := range []struct {
		name    string
		info    activity.Info
		err     error
		at      time.Duration // after t0
		final   bool
		because string
	}{
		{"first attempt", info(1), down, 0, false, "the next is 1 s later, well within the hour"},
		{"attempt 3", info(3), down, 7 * time.Second, false, "the next is 4 s later"},
		{"mid-outage", info(100), down, 50 * time.Minute, false, "the next is 30 s later, within the hour"},
		{"last before the bound", info(120), down, 59*time.Minute + 29*time.Second, false, "the next starts at 59m59s"},
		{"at the bound", info(121), down, 59*time.Minute + 31*time.Second, true, "the next would start at 60m01s, after the timeout"},
		{"cut by the timeout", info(121), errors.New("context deadline exceeded"), time.Hour, true, "the timeout has passed"},
		{"retry-after past the bound", info(10), temporal.NewApplicationErrorWithOptions("ratelimited", "RateLimited", temporal.ApplicationErrorOptions{NextRetryDelay: 2 * time.Minute}), 59 * time.Minute, true, "Retry-After says 2 min, past the hour"},
		{"no timeout, no limit", activity.Info{Attempt: 1000, ScheduledTime: t0, RetryPolicy: backlog}, down, 100 * time.Hour, false, "Temporal retries for ever"},
		{"attempts used up", activity.Info{Attempt: 4, ScheduledTime: t0, RetryPolicy: &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumAttempts: 4}}, down, 4 * time.Second, true, "4 of 4 attempts"},
		{"non-retryable type", activity.Info{Attempt: 1, RetryPolicy: &temporal.RetryPolicy{NonRetryableErrorTypes: []string{"InvalidInput"}}}, temporal.NewApplicationError("bad", "InvalidInput"), 0, true, "the policy does not retry InvalidInput"},
	} {
		if got := finalAttempt(tt.info, tt.err, t0.Add(tt.at)); got != tt.final {
			t.Errorf("%s (attempt %d at +%v): final %v, want %v: %s", tt.name, tt.info.Attempt, tt.at, got, tt.final, tt.because)
		}
	}
}

// TestNextBackoffFollowsThePolicy checks the backoff against the policy and the server's defaults.
func TestNextBackoffFollowsThePolicy(t *testing.T) {
	p := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := nextBackoff(p, int32(i+1), nil); got != w {
			t.Errorf("backoff after attempt %d: %v, want %v", i+1, got, w)
		}
	}
	if got := nextBackoff(&temporal.RetryPolicy{}, 3, nil); got != 4*time.Second {
		t.Errorf("backoff after attempt 3 with the server's defaults: %v, want 4s (1 s doubled twice)", got)
	}
	if got := nextBackoff(&temporal.RetryPolicy{}, 1000, nil); got != 100*time.Second {
		t.Errorf("backoff after attempt 1000 with the server's defaults: %v, want the default cap of 100 s", got)
	}
}

package observability

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
)

// TestSDKLogQuietsARetriedAttempt: through the SDK's own slog adapter, a failed activity
// attempt is not an ERROR line and a poll cut short by a stopping worker is not a WARN line,
// at the level drills and workers log at; other SDK records keep their level.
func TestSDKLogQuietsARetriedAttempt(t *testing.T) {
	var buf bytes.Buffer
	base := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})
	l := tlog.NewStructuredLogger(slog.New(SDKLog(base)))
	l.Error("Activity error.", "ActivityType", "vault.DisableEntity", "Attempt", 1, "Error", errors.New("Vault answered 503"))
	l.Warn("Failed to poll for task.", "WorkerType", "WorkflowWorker", "Error", errors.New("context canceled"))
	l.Warn("Failed to poll for task.", "WorkerType", "WorkflowWorker", "Error", errors.New("worker stopping"))
	if buf.Len() != 0 {
		t.Fatalf("at warn, expected no line for a retried attempt or a poll cut short by shutdown; got:\n%s", buf.String())
	}
	l.Warn("Failed to poll for task.", "Error", errors.New("connection refused"))
	l.Error("Workflow panic", "Error", "boom")
	out := buf.String()
	if !strings.Contains(out, `level=WARN msg="Failed to poll for task."`) || !strings.Contains(out, `level=ERROR msg="Workflow panic"`) {
		t.Fatalf("other records must keep their level; got:\n%s", out)
	}

	buf.Reset()
	info := tlog.NewStructuredLogger(slog.New(SDKLog(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	info.Error("Activity error.", "Attempt", 2, "Error", errors.New("Vault answered 503"))
	if got := buf.String(); !strings.Contains(got, `level=INFO msg="Activity error."`) || !strings.Contains(got, "Attempt=2") {
		t.Fatalf("at info, the attempt is logged at INFO with its attributes; got:\n%s", got)
	}
}

// TestSDKLogKeepsAFinalFailure: an attempt whose error is non-retryable is not retried, so it
// stays visible at the worker's usual level (warn).
func TestSDKLogKeepsAFinalFailure(t *testing.T) {
	var buf bytes.Buffer
	l := tlog.NewStructuredLogger(slog.New(SDKLog(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	l.Error("Activity error.", "ActivityType", "pagerduty.Note", "Attempt", 1, "Error", temporal.NewNonRetryableApplicationError("no incident PXYZ", "UnknownIncident", nil))
	if got := buf.String(); !strings.Contains(got, `level=WARN msg="Activity error."`) {
		t.Fatalf("a non-retryable failure must stay visible at warn; got:\n%q", got)
	}
}

package observability

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"go.temporal.io/sdk/temporal"
)

// SDKLog wraps the handler the Temporal SDK logs through, so that a normal run prints no
// ERROR or WARN line that is not one:
//   - "Activity error." is the SDK's record of one failed attempt of an activity, at ERROR,
//     whether or not the retry policy will try again. firebreak reports retries itself (status,
//     the RETRYING lines of run and drill, the scorecard, the Slack thread's wait notice) and
//     a step that finally fails is reported as the run's failure, so the attempt is logged at
//     INFO: visible with --log-level info, not an error of the run.
//   - "Failed to poll for task." with "context canceled" or "worker stopping" is a poll cut
//     short because the worker is stopping; it is logged at DEBUG. A poll that fails for any other reason keeps
//     its level.
//
// A failed attempt that no retry will follow (the error is non-retryable) is logged at WARN.
// Every other record passes unchanged.
func SDKLog(h slog.Handler) slog.Handler { return sdkLog{h} }

type sdkLog struct{ next slog.Handler }

func (s sdkLog) Enabled(ctx context.Context, l slog.Level) bool {
	// A demoted record arrives at a higher level than it is handled at: let it through here
	// and decide in Handle, where its message is known.
	return s.next.Enabled(ctx, slog.LevelDebug) || s.next.Enabled(ctx, l)
}

func (s sdkLog) Handle(ctx context.Context, r slog.Record) error {
	level := demoted(r)
	if level != r.Level {
		nr := slog.NewRecord(r.Time, level, r.Message, r.PC)
		r.Attrs(func(a slog.Attr) bool { nr.AddAttrs(a); return true })
		r = nr
	}
	if !s.next.Enabled(ctx, r.Level) {
		return nil
	}
	return s.next.Handle(ctx, r)
}

func (s sdkLog) WithAttrs(as []slog.Attr) slog.Handler { return sdkLog{s.next.WithAttrs(as)} }
func (s sdkLog) WithGroup(name string) slog.Handler    { return sdkLog{s.next.WithGroup(name)} }

// demoted is the level r is logged at.
func demoted(r slog.Record) slog.Level {
	switch r.Message {
	case "Activity error.":
		if final(r) {
			// No retry follows: the step fails now (or carries on, as its playbook says), which
			// an operator reading the worker's log should see.
			return min(r.Level, slog.LevelWarn)
		}
		if r.Level > slog.LevelInfo {
			return slog.LevelInfo
		}
	case "Failed to poll for task.":
		canceled := false
		r.Attrs(func(a slog.Attr) bool {
			if msg := a.Value.String(); a.Key == "Error" && (strings.Contains(msg, "context canceled") || strings.Contains(msg, "worker stopping")) {
				canceled = true
				return false
			}
			return true
		})
		if canceled && r.Level > slog.LevelDebug {
			return slog.LevelDebug
		}
	}
	return r.Level
}

// final reports whether the failed attempt r logs is not retried: its error is a
// non-retryable application error.
func final(r slog.Record) bool {
	nonRetryable := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "Error" {
			return true
		}
		var appErr *temporal.ApplicationError
		if err, ok := a.Value.Any().(error); ok && errors.As(err, &appErr) && appErr.NonRetryable() {
			nonRetryable = true
		}
		return false
	})
	return nonRetryable
}

package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// levelFilter is a slog.Handler that drops records below a minimum level
// before they reach the wrapped handler. The minimum is a LevelVar so Stop can
// raise it: the server routinely warns while it shuts down.
type levelFilter struct {
	min  *slog.LevelVar
	next slog.Handler
}

func (h levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min.Level() && h.next.Enabled(ctx, l)
}

func (h levelFilter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.min.Level() {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h levelFilter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelFilter{min: h.min, next: h.next.WithAttrs(attrs)}
}

func (h levelFilter) WithGroup(name string) slog.Handler {
	return levelFilter{min: h.min, next: h.next.WithGroup(name)}
}

// discardHandler drops everything; used when Options.Logger is nil.
type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }

// serverLogger adapts a *slog.Logger to the server's log.Logger. The slog
// logger it holds is already level-filtered, so the server cannot get around
// the filter through log.SLogWrapper either.
type serverLogger struct {
	log *slog.Logger
}

var (
	_ log.Logger      = serverLogger{}
	_ log.WithLogger  = serverLogger{}
	_ log.SLogWrapper = serverLogger{}
)

func (l serverLogger) Debug(msg string, tags ...tag.Tag) { l.emit(slog.LevelDebug, msg, tags) }
func (l serverLogger) Info(msg string, tags ...tag.Tag)  { l.emit(slog.LevelInfo, msg, tags) }
func (l serverLogger) Warn(msg string, tags ...tag.Tag)  { l.emit(slog.LevelWarn, msg, tags) }
func (l serverLogger) Error(msg string, tags ...tag.Tag) { l.emit(slog.LevelError, msg, tags) }

// DPanic, Panic and Fatal are logged as errors. The server's zap logger would
// panic or exit the process; an embedded dev server must never take the host
// process (a test binary, `firebreak dev`) down with it. The Temporal CLI's dev
// server makes the same choice.
func (l serverLogger) DPanic(msg string, tags ...tag.Tag) { l.emit(slog.LevelError, msg, tags) }
func (l serverLogger) Panic(msg string, tags ...tag.Tag)  { l.emit(slog.LevelError, msg, tags) }
func (l serverLogger) Fatal(msg string, tags ...tag.Tag)  { l.emit(slog.LevelError, msg, tags) }

// With returns a logger that prepends tags to every record.
func (l serverLogger) With(tags ...tag.Tag) log.Logger {
	return serverLogger{log: slog.New(l.log.Handler().WithAttrs(tagsToAttrs(tags)))}
}

// SLog returns the (level-filtered) slog logger.
func (l serverLogger) SLog() *slog.Logger { return l.log }

func (l serverLogger) emit(level slog.Level, msg string, tags []tag.Tag) {
	if level >= slog.LevelError && pollCanceled(msg, tags) {
		level = slog.LevelDebug
	}
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.LogAttrs(ctx, level, msg, tagsToAttrs(tags)...)
}

func tagsToAttrs(tags []tag.Tag) []slog.Attr {
	attrs := make([]slog.Attr, len(tags))
	for i, t := range tags {
		attrs[i] = slog.Any(t.Key(), t.Value())
	}
	return attrs
}

// pollCanceled reports a frontend record of a worker's long poll that ended because the
// worker stopped polling ("Unable to call matching.PollWorkflowTaskQueue." with context
// canceled): every normal worker shutdown causes one, and nothing is wrong.
func pollCanceled(msg string, tags []tag.Tag) bool {
	if !strings.HasPrefix(msg, "Unable to call matching.Poll") {
		return false
	}
	for _, t := range tags {
		if err, ok := t.Value().(error); ok && (errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled) {
			return true
		}
		if t.Key() == "error" && strings.Contains(fmt.Sprint(t.Value()), "context canceled") {
			return true
		}
	}
	return false
}

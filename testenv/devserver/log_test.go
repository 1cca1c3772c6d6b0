package devserver

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// recordingHandler keeps every record it is asked to handle.
type recordingHandler struct {
	mu      *sync.Mutex
	records *[]slog.Record
}

func newRecordingHandler() recordingHandler {
	return recordingHandler{mu: new(sync.Mutex), records: new([]slog.Record)}
}

func (h recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, r.Clone())
	return nil
}
func (h recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordingHandler) WithGroup(string) slog.Handler      { return h }

func (h recordingHandler) levels() []slog.Level {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]slog.Level, len(*h.records))
	for i, r := range *h.records {
		out[i] = r.Level
	}
	return out
}

func TestServerLoggerLevels(t *testing.T) {
	tests := []struct {
		name string
		log  func(log.Logger)
		want []slog.Level // nil: dropped
	}{
		{name: "debug dropped", log: func(l log.Logger) { l.Debug("d") }},
		{name: "info dropped", log: func(l log.Logger) { l.Info("i", tag.NewStringTag("k", "v")) }},
		{name: "warn kept", log: func(l log.Logger) { l.Warn("w") }, want: []slog.Level{slog.LevelWarn}},
		{name: "error kept", log: func(l log.Logger) { l.Error("e") }, want: []slog.Level{slog.LevelError}},
		{name: "fatal is an error, not an exit", log: func(l log.Logger) { l.Fatal("f") }, want: []slog.Level{slog.LevelError}},
		{name: "panic is an error, not a panic", log: func(l log.Logger) { l.Panic("p") }, want: []slog.Level{slog.LevelError}},
		{name: "With keeps the filter", log: func(l log.Logger) {
			w := log.With(l, tag.NewStringTag("k", "v"))
			w.Info("i")
			w.Warn("w")
		}, want: []slog.Level{slog.LevelWarn}},
		{name: "SLog keeps the filter", log: func(l log.Logger) {
			s := log.NewSlogLogger(l)
			s.Info("i")
			s.Error("e")
		}, want: []slog.Level{slog.LevelError}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newRecordingHandler()
			min := new(slog.LevelVar)
			min.Set(slog.LevelWarn)
			tt.log(serverLogger{log: slog.New(levelFilter{min: min, next: h})})
			got := h.levels()
			if len(got) != len(tt.want) {
				t.Fatalf("logged levels %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("logged levels %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestServerLogsWarnAndAbove runs a workflow on a server with a recording
// logger and checks that nothing below Warn came through.
func TestServerLogsWarnAndAbove(t *testing.T) {
	h := newRecordingHandler()
	s := startServer(t, Options{Logger: slog.New(h)})
	c, _ := dialWorker(t, s)
	if _, err := runWorkflow(context.Background(), c, "logs", oneActivityWorkflow, "x"); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range *h.records {
		if r.Level < slog.LevelWarn {
			t.Errorf("server logged %q at %v, want Warn and above only", r.Message, r.Level)
		}
		t.Logf("server log: %v %s", r.Level, r.Message)
	}
}

// TestCanceledPollIsNotAnError: the frontend logs "Unable to call
// matching.PollWorkflowTaskQueue." as an ERROR when a worker's long poll ends with context
// canceled — which every normal worker shutdown causes. The embedded server logs it at debug;
// other errors of the same call stay errors.
func TestCanceledPollIsNotAnError(t *testing.T) {
	h := newRecordingHandler()
	l := serverLogger{log: slog.New(h)}
	l.Error("Unable to call matching.PollWorkflowTaskQueue.", tag.WorkflowTaskQueueName("q"), tag.Error(context.Canceled))
	l.Error("Unable to call matching.PollActivityTaskQueue.", tag.Error(errors.New("rpc error: code = Canceled desc = context canceled")))
	l.Error("Unable to call matching.PollWorkflowTaskQueue.", tag.Error(errors.New("matching unavailable")))
	got := h.levels()
	want := []slog.Level{slog.LevelDebug, slog.LevelDebug, slog.LevelError}
	if len(got) != len(want) {
		t.Fatalf("levels %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("levels %v, want %v", got, want)
		}
	}
}

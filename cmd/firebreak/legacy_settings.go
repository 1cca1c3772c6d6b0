package main

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"

	"go.temporal.io/sdk/worker"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// ADAPTER, for drill.go, replay.go, schedule.go, review.go and action.go only: they are being
// moved out of cmd/firebreak (into drills/, audit/ and playbooks/) on another branch and still
// read settings the old way. Everything else is passed a *settings. Nothing else may call
// what is below; delete this file once those files take their settings as a parameter.

// legacySettings is the running command's settings, for the calls below that have no
// context to carry them; applyConfig sets it. It is the package's one piece of state.
var legacySettings atomic.Pointer[settings]

// setting is the running command's setting name (settings.get).
func setting(name string) string { return legacySettings.Load().get(name) }

// requesterAuth is requesterAuthOf with the running command's settings.
func requesterAuth(requestedBy string) (string, error) {
	return requesterAuthOf(legacySettings.Load(), requestedBy)
}

// configuredDirectory is the running command's settings.directory.
func configuredDirectory() []playbooks.Identity { return legacySettings.Load().directory() }

// directoryNames is the running command's settings.directoryNames.
func directoryNames() func(string) string { return legacySettings.Load().directoryNames() }

// newLogger is settings.logger with the running command's settings.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	return legacySettings.Load().logger(w, level)
}

// connectTemporal is dialTemporal with the settings ctx carries.
func connectTemporal(ctx context.Context, logger *slog.Logger) (*temporalConn, error) {
	return dialTemporal(ctx, settingsFrom(ctx), logger)
}

// openProduction is dialProduction with the settings ctx carries.
func openProduction(ctx context.Context, logger *slog.Logger, evidenceDir, playbookDir string) (*production, error) {
	return dialProduction(ctx, settingsFrom(ctx), logger, evidenceDir, playbookDir)
}

// startProductionWorker is startWorker with the settings ctx carries.
func startProductionWorker(ctx context.Context, logger *slog.Logger, evidenceDir, playbookDir string) (worker.Worker, *temporalConn, error) {
	return startWorker(ctx, settingsFrom(ctx), logger, evidenceDir, playbookDir)
}

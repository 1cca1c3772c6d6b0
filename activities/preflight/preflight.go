// Package preflight is the shape of an integration's preflight checks, which `firebreak
// doctor` runs: each integration package owns its checks (activities/vault/preflight.go…) and
// reports them as Results; Run runs them in turn. It holds no checks itself and imports only
// the standard library.
package preflight

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Statuses of a Result. Only Failed makes `firebreak doctor` exit 1.
const (
	OK         = "ok"
	Failed     = "failed"
	Warning    = "warning"    // works, but should be fixed (a literal secret in the file)
	Unverified = "unverified" // configured, but there is no harmless call that proves it works
	Skipped    = "skipped"
)

// Result is one finding of a preflight check.
type Result struct {
	Integration string `json:"integration"`
	Check       string `json:"check"`
	Status      string `json:"status"`
	Detail      string `json:"detail"`
}

// Fail is a failed Result whose detail is format applied to args.
func Fail(integration, check, format string, args ...any) Result {
	return Result{integration, check, Failed, fmt.Sprintf(format, args...)}
}

// Probe is one integration's preflight checks, under the name --skip gives it.
type Probe struct {
	Name string
	Run  func(context.Context) []Result
}

// Report is the whole of `firebreak doctor --json`: every check, and whether none failed.
type Report struct {
	Passed bool     `json:"passed"`
	Checks []Result `json:"checks"`
}

// Names are the probes' names, for --skip.
func Names(probes []Probe) []string {
	names := make([]string, len(probes))
	for i, p := range probes {
		names[i] = p.Name
	}
	return names
}

// Run runs each probe in turn, each within timeout, after the checks already made (done); a
// probe named in skip is reported skipped instead.
func Run(ctx context.Context, done []Result, probes []Probe, skip []string, timeout time.Duration) Report {
	rep := Report{Passed: true, Checks: done}
	for _, p := range probes {
		if slices.Contains(skip, p.Name) {
			rep.Checks = append(rep.Checks, Result{p.Name, "all", Skipped, "--skip " + p.Name})
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		rep.Checks = append(rep.Checks, p.Run(pctx)...)
		cancel()
	}
	for _, c := range rep.Checks {
		if c.Status == Failed {
			rep.Passed = false
		}
	}
	return rep
}

// WriteText writes one line per check: status, integration, check, detail.
func (r Report) WriteText(w io.Writer) {
	for _, c := range r.Checks {
		fmt.Fprintf(w, "%-10s %-10s %-14s %s\n", strings.ToUpper(c.Status), c.Integration, c.Check, c.Detail)
	}
}

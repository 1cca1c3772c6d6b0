// Package preflight is the shape of an integration's preflight checks, which `firebreak
// doctor` runs: each integration package owns its checks (activities/vault/preflight.go…) and
// reports them as Results. It holds no checks itself and imports only the standard library.
package preflight

import "fmt"

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

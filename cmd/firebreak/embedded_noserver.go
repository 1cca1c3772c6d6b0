//go:build noserver

package main

import (
	"context"
	"errors"

	"github.com/firebreak-dev/firebreak/config"
)

// errNoEmbeddedServer is what every command that would start an embedded Temporal server
// returns from a binary built with -tags noserver, the production image's build.
var errNoEmbeddedServer = errors.New("this firebreak was built without the embedded Temporal server (-tags noserver): set TEMPORAL_ADDRESS to a Temporal cluster or a `firebreak dev`")

// unreachableHint follows "cannot reach Temporal at ADDR (from TEMPORAL_ADDRESS…": this build
// has no embedded server to fall back on.
const unreachableHint = "is the cluster up, and is the address right?"

// startEmbedded fails: the production build leaves the Temporal server (about half of the
// binary, and of its resident memory) out, and always dials TEMPORAL_ADDRESS.
func startEmbedded(context.Context, embeddedOptions) (embeddedServer, error) {
	return nil, config.UsageError{Err: errNoEmbeddedServer}
}

package fakebase

import "strings"

// Canary is the marker contained in every secret value the sandbox seeds or mints, so tests
// can scan workflow history, logs and outbound chat for leaks.
const Canary = "fbcanary"

// ContainsCanary reports whether s holds the sandbox's canary marker.
func ContainsCanary(s string) bool { return strings.Contains(s, Canary) }

package fakebase

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// Canary is the marker contained in every secret value the sandbox seeds or mints, so tests
// can scan workflow history, logs and outbound chat for leaks.
const Canary = "fbcanary"

// ContainsCanary reports whether s holds the sandbox's canary marker.
func ContainsCanary(s string) bool { return strings.Contains(s, Canary) }

// NewCanaryValue mints a fresh secret value that contains Canary: prefix, Canary, sep, then n
// random bytes in hex. A value the sandbox issued itself (a rotated password, a replayed
// token) is then caught by a leak scan as surely as a seeded one.
func NewCanaryValue(prefix, sep string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return prefix + Canary + sep + hex.EncodeToString(b)
}

package fakebase_test

import (
	"regexp"
	"testing"

	"github.com/firebreak-dev/firebreak/testenv/fakebase"
)

func TestNewCanaryValue(t *testing.T) {
	a, b := fakebase.NewCanaryValue("sk_test_", "_", 12), fakebase.NewCanaryValue("sk_test_", "_", 12)
	if !regexp.MustCompile(`^sk_test_` + fakebase.Canary + `_[0-9a-f]{24}$`).MatchString(a) {
		t.Errorf("NewCanaryValue = %q; expected sk_test_, the canary, _ and 24 hex digits", a)
	}
	if a == b {
		t.Errorf("two values minted alike: %q", a)
	}
	if !fakebase.ContainsCanary(a) || fakebase.ContainsCanary("sk_test_plain") {
		t.Errorf("ContainsCanary disagrees with NewCanaryValue")
	}
}

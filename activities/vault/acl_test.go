package vault

import "testing"

func TestACLAllows(t *testing.T) {
	policies := map[string]string{
		"payments": `path "secret/data/shared/payments-db" { capabilities = ["read"] }
path "secret/data/shared/stripe-*" { capabilities = ["read"] }`,
		"ci":        `path "secret/data/shared/ci/+" { capabilities = ["read"] }`,
		"lister":    `path "secret/data/shared/*" { capabilities = ["list"] }`,
		"deny-ci":   `path "secret/data/shared/ci/deploy-key" { capabilities = ["deny"] }`,
		"old":       `path "secret/data/legacy/*" { policy = "read" }`,
		"specific":  `path "secret/data/+/x" { capabilities = ["deny"] }` + "\n" + `path "secret/data/a/*" { capabilities = ["read"] }`,
		"wc-prefix": `path "secret/data/team/+/app*" { capabilities = ["read"] }`,
	}
	parsed := map[string][]aclRule{}
	for name, text := range policies {
		rules, err := parsePolicy(name, text)
		if err != nil {
			t.Fatalf("parsePolicy(%s): %v", name, err)
		}
		parsed[name] = rules
	}
	build := func(names ...string) *acl {
		var rs [][]aclRule
		for _, n := range names {
			rs = append(rs, parsed[n])
		}
		return newACL(false, rs...)
	}
	tests := []struct {
		name     string
		policies []string
		path     string
		want     bool
	}{
		{"exact", []string{"payments"}, "secret/data/shared/payments-db", true},
		{"exact does not prefix", []string{"payments"}, "secret/data/shared/payments-db2", false},
		{"glob", []string{"payments"}, "secret/data/shared/stripe-api", true},
		{"plus one segment", []string{"ci"}, "secret/data/shared/ci/deploy-key", true},
		{"plus not two segments", []string{"ci"}, "secret/data/shared/ci/nested/not-matched", false},
		{"list is not read", []string{"lister"}, "secret/data/shared/analytics-db", false},
		{"most specific wins over broader read", []string{"lister", "payments"}, "secret/data/shared/payments-db", true},
		{"deny on same path wins", []string{"ci", "deny-ci"}, "secret/data/shared/ci/deploy-key", false},
		{"old policy syntax", []string{"old"}, "secret/data/legacy/thing", true},
		{"later glob beats earlier plus", []string{"specific"}, "secret/data/a/x", true},
		{"plus deny applies elsewhere", []string{"specific"}, "secret/data/b/x", false},
		{"plus with prefix glob", []string{"wc-prefix"}, "secret/data/team/blue/app-db", true},
		{"plus with prefix glob mismatch", []string{"wc-prefix"}, "secret/data/team/blue/db", false},
		{"no policy", nil, "secret/data/shared/payments-db", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := build(tc.policies...).allows(tc.path, capRead); got != tc.want {
				t.Errorf("read %s with %v = %v, want %v", tc.path, tc.policies, got, tc.want)
			}
		})
	}
	if !newACL(true).allows("anything/at/all", capRead) {
		t.Error("root ACL must allow everything")
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, text := range []string{
		`path "x" { capabilities = [`,
		`path "x" { policy = "everything" }`,
	} {
		if _, err := parsePolicy("bad", text); err == nil {
			t.Errorf("parsePolicy(%q) succeeded, want an error", text)
		}
	}
}

// TestParsePolicyIgnoresUnknownCapabilities: a capability firebreak does not decide on (scan,
// which OpenBao accepts; subscribe, which Vault accepts) is ignored, not a failure; the
// policy's other capabilities still count.
func TestParsePolicyIgnoresUnknownCapabilities(t *testing.T) {
	rules, err := parsePolicy("p", `path "a/*" { capabilities = ["read", "scan"] }
path "b" { capabilities = ["subscribe"] }`)
	if err != nil {
		t.Fatalf("parsePolicy: %v", err)
	}
	l := newACL(false, rules)
	if !l.allows("a/x", capRead) {
		t.Error("read on a/x lost next to an unknown capability")
	}
	if l.allows("b", capRead) || l.allows("b", capList) {
		t.Error("an unknown capability granted read or list")
	}
}

package vault

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
)

// capability bits, as in Vault's policy package.
const (
	capDeny uint32 = 1 << iota
	capCreate
	capRead
	capUpdate
	capDelete
	capList
	capSudo
	capPatch
)

var capabilityBits = map[string]uint32{
	"deny": capDeny, "create": capCreate, "read": capRead, "update": capUpdate,
	"delete": capDelete, "list": capList, "sudo": capSudo, "patch": capPatch,
}

// oldPolicyBits maps the pre-0.9 `policy = "..."` shorthand to capabilities, as Vault does.
var oldPolicyBits = map[string]uint32{
	"deny":  capDeny,
	"read":  capRead | capList,
	"write": capRead | capList | capCreate | capUpdate | capDelete,
	"sudo":  capRead | capList | capCreate | capUpdate | capDelete | capSudo,
}

// aclRule is one `path "..." { ... }` block of a policy.
type aclRule struct {
	pattern string
	caps    uint32
}

// parsePolicy parses the path rules of an ACL policy in HCL (v1, as Vault uses).
func parsePolicy(name, text string) ([]aclRule, error) {
	file, err := hcl.ParseString(text)
	if err != nil {
		return nil, fmt.Errorf("policy %q: parsing HCL: %w", name, err)
	}
	list, ok := file.Node.(*ast.ObjectList)
	if !ok {
		return nil, fmt.Errorf("policy %q: expected a list of path blocks at the top level", name)
	}
	var rules []aclRule
	for _, item := range list.Filter("path").Items {
		if len(item.Keys) == 0 {
			return nil, fmt.Errorf("policy %q: path block at %s has no path", name, item.Pos())
		}
		pattern, ok := item.Keys[0].Token.Value().(string)
		if !ok {
			return nil, fmt.Errorf("policy %q: path at %s is not a string", name, item.Pos())
		}
		var body struct {
			Capabilities []string `hcl:"capabilities"`
			Policy       string   `hcl:"policy"`
		}
		if err := hcl.DecodeObject(&body, item.Val); err != nil {
			return nil, fmt.Errorf("policy %q: path %q: %w", name, pattern, err)
		}
		var caps uint32
		for _, c := range body.Capabilities {
			// A capability firebreak does not know ("scan", which OpenBao accepts;
			// "subscribe", which Vault accepts; policies read back were validated by the
			// server) grants none of read, list or deny, all firebreak decides on: it is
			// ignored, not a reason to give up on the policy.
			caps |= capabilityBits[strings.ToLower(c)]
		}
		if body.Policy != "" {
			bit, ok := oldPolicyBits[strings.ToLower(body.Policy)]
			if !ok {
				return nil, fmt.Errorf("policy %q: path %q: unknown policy value %q", name, pattern, body.Policy)
			}
			caps |= bit
		}
		rules = append(rules, aclRule{pattern: strings.TrimLeft(pattern, "/"), caps: caps})
	}
	return rules, nil
}

// acl is the merged view of a set of policies, evaluated the way Vault's ACL does: an exact
// rule wins; otherwise the most specific of the prefix (`*`) and segment-wildcard (`+`) rules
// that match; rules for the same pattern from several policies are merged, and deny on the
// chosen rule denies everything.
type acl struct {
	root     bool
	exact    map[string]uint32
	prefix   map[string]uint32 // pattern without its trailing '*'
	wildcard map[string]uint32 // patterns with a '+' segment, as written
}

func newACL(root bool, rules ...[]aclRule) *acl {
	a := &acl{root: root, exact: map[string]uint32{}, prefix: map[string]uint32{}, wildcard: map[string]uint32{}}
	merge := func(m map[string]uint32, k string, caps uint32) {
		caps |= m[k]
		if caps&capDeny != 0 {
			caps = capDeny
		}
		m[k] = caps
	}
	for _, rs := range rules {
		for _, r := range rs {
			switch {
			case strings.Contains(r.pattern, "+"):
				merge(a.wildcard, r.pattern, r.caps)
			case strings.HasSuffix(r.pattern, "*"):
				merge(a.prefix, strings.TrimSuffix(r.pattern, "*"), r.caps)
			default:
				merge(a.exact, r.pattern, r.caps)
			}
		}
	}
	return a
}

// allows reports whether the ACL grants capability bit on path.
func (a *acl) allows(path string, bit uint32) bool {
	if a.root {
		return true
	}
	caps, ok := a.exact[path]
	if !ok {
		caps = a.nonExact(path)
	}
	return caps&capDeny == 0 && caps&bit != 0
}

// nonExact finds the capabilities of the highest-priority prefix or wildcard rule matching
// path, with Vault's ordering: later first wildcard or glob, then non-prefix over prefix,
// then fewer '+' segments, then longer pattern, then lexically greater.
func (a *acl) nonExact(path string) uint32 {
	type cand struct {
		firstWC   int
		isPrefix  bool
		wildcards int
		pattern   string
		caps      uint32
	}
	var cands []cand
	best := ""
	found := false
	for p := range a.prefix {
		if strings.HasPrefix(path, p) && (!found || len(p) > len(best)) {
			best, found = p, true
		}
	}
	if found {
		cands = append(cands, cand{firstWC: len(best), isPrefix: true, pattern: best, caps: a.prefix[best]})
	}
	parts := strings.Split(path, "/")
	for full, caps := range a.wildcard {
		c := cand{firstWC: strings.Index(full, "+"), caps: caps}
		pat := full
		if strings.HasSuffix(pat, "*") {
			c.isPrefix = true
			pat = strings.TrimSuffix(pat, "*")
		}
		c.pattern = pat
		segs := strings.Split(pat, "/")
		if len(parts) < len(segs) || (!c.isPrefix && len(parts) != len(segs)) {
			continue
		}
		match := true
		for i, s := range segs {
			switch {
			case s == "+":
				c.wildcards++
			case s == parts[i]:
			case c.isPrefix && i == len(segs)-1 && strings.HasPrefix(parts[i], s):
			default:
				match = false
			}
			if !match {
				break
			}
		}
		if match {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return 0
	}
	less := func(i, j int) bool {
		x, y := cands[i], cands[j]
		if x.firstWC != y.firstWC {
			return x.firstWC < y.firstWC
		}
		if x.isPrefix != y.isPrefix {
			return x.isPrefix
		}
		if x.wildcards != y.wildcards {
			return x.wildcards > y.wildcards
		}
		if len(x.pattern) != len(y.pattern) {
			return len(x.pattern) < len(y.pattern)
		}
		return x.pattern < y.pattern
	}
	sort.Slice(cands, less)
	return cands[len(cands)-1].caps
}

// Policy is a parsed Vault ACL policy, evaluated with Vault's path-matching rules.
type Policy struct {
	acl   *acl
	rules []aclRule
}

// Rule is one path block of a policy.
type Rule struct {
	Pattern      string
	Capabilities []string
}

// Rules lists the policy's path blocks with their capabilities, sorted.
func (p *Policy) Rules() []Rule {
	var out []Rule
	for _, r := range p.rules {
		rule := Rule{Pattern: r.pattern}
		for name, bit := range capabilityBits {
			if r.caps&bit != 0 {
				rule.Capabilities = append(rule.Capabilities, name)
			}
		}
		sort.Strings(rule.Capabilities)
		out = append(out, rule)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pattern < out[j].Pattern })
	return out
}

// ParsePolicy parses an ACL policy in HCL.
func ParsePolicy(name, hcl string) (*Policy, error) {
	rules, err := parsePolicy(name, hcl)
	if err != nil {
		return nil, err
	}
	return &Policy{acl: newACL(false, rules), rules: rules}, nil
}

// Allows reports whether the policy grants capability (read, list, create, update, delete,
// sudo, patch) on path (without the /v1/ prefix).
func (p *Policy) Allows(path, capability string) bool {
	bit, ok := capabilityBits[capability]
	return ok && capability != "deny" && p.acl.allows(strings.TrimLeft(path, "/"), bit)
}

// ACL is several policies evaluated together, as Vault evaluates a token's policies: rules
// for the same path from different policies merge, and deny on the chosen rule wins.
type ACL struct{ acl *acl }

// MergePolicies merges policies into one ACL; root grants everything.
func MergePolicies(root bool, policies ...*Policy) *ACL {
	var rs [][]aclRule
	for _, p := range policies {
		rs = append(rs, p.rules)
	}
	return &ACL{acl: newACL(root, rs...)}
}

// Capabilities lists the capabilities the ACL grants on path, sorted, as
// sys/capabilities-self answers: ["root"] for root, ["deny"] when none.
func (a *ACL) Capabilities(path string) []string {
	if a.acl.root {
		return []string{"root"}
	}
	var out []string
	for _, c := range []string{"create", "delete", "list", "patch", "read", "sudo", "update"} {
		if a.acl.allows(strings.TrimLeft(path, "/"), capabilityBits[c]) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return []string{"deny"}
	}
	return out
}

// ResultantRules lists the ACL's exact rules and its glob rules (by prefix, without the
// trailing "*") with their capabilities, sorted, as sys/internal/ui/resultant-acl answers:
// rules with a "+" segment are not listed there, and a deny is listed alone.
func (a *ACL) ResultantRules() (exact, glob map[string][]string) {
	exact, glob = map[string][]string{}, map[string][]string{}
	for p, caps := range a.acl.exact {
		exact[p] = capNames(caps)
	}
	for p, caps := range a.acl.prefix {
		glob[p] = capNames(caps)
	}
	return exact, glob
}

// Root reports whether the ACL is root's (it grants everything).
func (a *ACL) Root() bool { return a.acl.root }

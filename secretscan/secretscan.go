// Package secretscan finds and redacts credentials in text with gitleaks' maintained rule set
// (the default gitleaks.toml, more than two hundred rules with keywords, entropy thresholds and
// allowlists), so a playbook cannot carry a secret and nothing firebreak sends to Slack or
// PagerDuty can leak one.
//
// Only gitleaks' config package is linked, not its detect package: the detector drags in git,
// archive decoders (7z, rar, xz, lz4, brotli) and a terminal UI library — about fifty modules
// for scanning a string. Find applies the rules the way gitleaks' detector does for one
// fragment of text: keyword prefilter, the rule's regular expression, its secret group, the
// entropy threshold, then the global and the rule's allowlists (regexes and stop words, with
// their OR/AND conditions). Path-only and composite rules need a file path or several
// fragments and are not applied.
package secretscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
)

// Finding is one credential found in a text.
type Finding struct {
	RuleID      string // gitleaks rule id, such as "aws-access-token"
	Description string // what the rule detects
	Start, End  int    // byte offsets of the secret in the scanned text
	Secret      string // the secret itself: never print it
}

type ruleSet struct {
	rules  []config.Rule
	global []*config.Allowlist
}

var load = sync.OnceValues(func() (*ruleSet, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
		return nil, fmt.Errorf("read gitleaks' default rules: %w", err)
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return nil, fmt.Errorf("decode gitleaks' default rules: %w", err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		return nil, fmt.Errorf("compile gitleaks' default rules: %w", err)
	}
	rs := &ruleSet{global: cfg.Allowlists}
	for _, id := range cfg.OrderedRules {
		r := cfg.Rules[id]
		if r.Regex == nil || r.SkipReport {
			continue // path-only rules and rules that only support composite ones
		}
		rs.rules = append(rs.rules, r)
	}
	if len(rs.rules) < 100 {
		return nil, fmt.Errorf("gitleaks' default rules: expected more than a hundred content rules, found %d", len(rs.rules))
	}
	return rs, nil
})

func rules() *ruleSet {
	rs, err := load()
	if err != nil {
		// The rules are compiled into the binary: failing here is a build defect, and a
		// scanner that silently finds nothing would be worse than stopping.
		panic(err)
	}
	return rs
}

// RuleCount is the number of content rules applied.
func RuleCount() int { return len(rules().rules) }

// Find returns the credentials in text, ordered by position, without overlaps.
func Find(text string) []Finding {
	if text == "" {
		return nil
	}
	rs := rules()
	lower := strings.ToLower(text)
	var out []Finding
	for i := range rs.rules {
		r := &rs.rules[i]
		if len(r.Keywords) > 0 && !containsAny(lower, r.Keywords) {
			continue
		}
		for _, m := range r.Regex.FindAllStringSubmatchIndex(text, -1) {
			match := strings.Trim(text[m[0]:m[1]], "\n")
			start, end := m[0], m[0]+len(match)
			secretStart, secretEnd := start, end
			if len(m) >= 4 {
				g := r.SecretGroup
				if g == 0 {
					for k := 1; 2*k+1 < len(m); k++ {
						if m[2*k] >= 0 && m[2*k+1] > m[2*k] {
							g = k
							break
						}
					}
				}
				if g > 0 && 2*g+1 < len(m) && m[2*g] >= 0 {
					secretStart, secretEnd = m[2*g], m[2*g+1]
				}
			}
			if secretEnd > end {
				secretEnd = end
			}
			secret := text[secretStart:secretEnd]
			if secret == "" {
				continue
			}
			if r.Entropy != 0 && entropy(secret) <= r.Entropy {
				continue
			}
			line := lineAt(text, start, end)
			if allowed(rs.global, secret, match, line) || allowed(r.Allowlists, secret, match, line) {
				continue
			}
			out = append(out, Finding{RuleID: r.RuleID, Description: r.Description, Start: secretStart, End: secretEnd, Secret: secret})
		}
	}
	return dedupe(out)
}

// Identifier reports whether a rule finds names of credentials rather than credentials: an
// AWS access key ID names a key (AWS does not treat it as secret, and it is useless without
// the secret key), and it is what a responder must read to know which key was cut. Redact
// keeps identifiers; Find still reports them, so a playbook cannot hard-code one.
func Identifier(ruleID string) bool { return ruleID == "aws-access-token" }

// Redact replaces every credential Find reports, except identifiers, with
// "[redacted <rule>]".
func Redact(text string) string {
	var fs []Finding
	for _, f := range Find(text) {
		if !Identifier(f.RuleID) {
			fs = append(fs, f)
		}
	}
	if len(fs) == 0 {
		return text
	}
	var b strings.Builder
	last := 0
	for _, f := range fs {
		b.WriteString(text[last:f.Start])
		b.WriteString("[redacted " + f.RuleID + "]")
		last = f.End
	}
	b.WriteString(text[last:])
	return b.String()
}

// RedactJSON redacts every string in a JSON document (Slack Block Kit, say), keys and
// values, and returns it re-encoded; a document that is not JSON is redacted as text.
func RedactJSON(doc []byte) []byte {
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []byte(Redact(string(doc)))
	}
	if !changed(v) {
		return doc
	}
	out, err := json.Marshal(redactValue(v))
	if err != nil {
		return []byte(Redact(string(doc)))
	}
	return out
}

func changed(v any) bool {
	switch x := v.(type) {
	case string:
		return Redact(x) != x
	case []any:
		for _, e := range x {
			if changed(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if Redact(k) != k || changed(e) {
				return true
			}
		}
	}
	return false
}

func redactValue(v any) any {
	switch x := v.(type) {
	case string:
		return Redact(x)
	case []any:
		for i, e := range x {
			x[i] = redactValue(e)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[Redact(k)] = redactValue(e)
		}
		return out
	}
	return v
}

func containsAny(lower string, words []string) bool {
	for _, w := range words {
		if strings.Contains(lower, strings.ToLower(w)) {
			return true
		}
	}
	return false
}

// allowed applies allowlists as gitleaks' checkFindingAllowed does for a fragment without a
// commit or path: an OR list allows on a regex or stop word; an AND list needs all its
// conditions, and a condition on commits or paths cannot hold here.
func allowed(lists []*config.Allowlist, secret, match, line string) bool {
	for _, a := range lists {
		target := secret
		switch a.RegexTarget {
		case "match":
			target = match
		case "line":
			target = line
		}
		regexOK := a.RegexAllowed(target)
		stopOK, _ := a.ContainsStopWord(secret)
		if a.MatchCondition == config.AllowlistMatchAnd {
			checks := 0
			ok := true
			if len(a.Commits) > 0 || len(a.Paths) > 0 {
				ok = false
			}
			if len(a.Regexes) > 0 {
				checks++
				ok = ok && regexOK
			}
			if len(a.StopWords) > 0 {
				checks++
				ok = ok && stopOK
			}
			if ok && checks > 0 {
				return true
			}
			continue
		}
		if regexOK || stopOK {
			return true
		}
	}
	return false
}

func lineAt(text string, start, end int) string {
	ls := strings.LastIndexByte(text[:start], '\n') + 1
	le := strings.IndexByte(text[end:], '\n')
	if le < 0 {
		return text[ls:]
	}
	return text[ls : end+le]
}

// entropy is the Shannon entropy of s in bits per character, as gitleaks computes it.
func entropy(s string) float64 {
	counts := map[rune]int{}
	for _, c := range s {
		counts[c]++
	}
	var e float64
	n := float64(len(s))
	for _, c := range counts {
		f := float64(c) / n
		e -= f * math.Log2(f)
	}
	return e
}

// dedupe orders findings by position and drops those inside an earlier, longer one (a
// generic rule often matches what a specific one already found).
func dedupe(fs []Finding) []Finding {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Start != fs[j].Start {
			return fs[i].Start < fs[j].Start
		}
		gi, gj := strings.Contains(fs[i].RuleID, "generic"), strings.Contains(fs[j].RuleID, "generic")
		if gi != gj {
			return gj // specific rules first
		}
		return fs[i].End > fs[j].End
	})
	var out []Finding
	end := -1
	for _, f := range fs {
		if f.Start < end {
			continue
		}
		out = append(out, f)
		end = f.End
	}
	return out
}

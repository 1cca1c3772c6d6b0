package workflows

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// One holder of the front end's decision key can sign as anyone in the directory: that is
// what firebreak serve must do, having authenticated the person through Slack. A person who
// decides from the command line is not authenticated by anything but their key, so each
// gets their own: an approver key, listed in the worker's configuration with the one name it
// may decide as and the roles it may claim. A decision signed with an approver key counts
// only for that name and those roles, so one key holder cannot be two people at a gate.

// Approver is a person who decides with their own key (firebreak approve with
// FIREBREAK_APPROVER_KEY): the name and roles the worker's configuration gives them.
type Approver struct {
	Name  string
	Key   ed25519.PublicKey
	Roles []string
}

// WithApprovers has the workflow count decisions signed by each approver's own key, for that
// approver only and with their configured roles only.
func WithApprovers(list ...Approver) Option {
	return func(t *trust) { t.approvers = append(t.approvers, list...) }
}

// approverFor returns the approver whose key signed sig, if one did.
func (t trust) approverFor(keyID string) (Approver, bool) {
	for _, a := range t.approvers {
		if DecisionKeyID(a.Key) == keyID {
			return a, true
		}
	}
	return Approver{}, false
}

// checkApprover refuses a decision signed with a's key that names another person, or roles
// the configuration does not give a.
func checkApprover(a Approver, req ApprovalRequest) error {
	if identity(req.Approver) != identity(a.Name) {
		return fmt.Errorf("decision is signed with %s's own approver key but names %s as the approver: an approver key decides only as its holder", a.Name, req.Approver)
	}
	for _, r := range req.ApproverRoles {
		if !slices.Contains(a.Roles, r) {
			return fmt.Errorf("decision signed with %s's approver key claims the role %s, which the worker's configuration does not give them (it gives [%s])", a.Name, r, strings.Join(a.Roles, ", "))
		}
	}
	return nil
}

// ParseApprovers reads approver entries, separated by ';' or newlines, each
// NAME=PUBLICKEY[:ROLE+ROLE…] with PUBLICKEY the base64 of 32 bytes.
func ParseApprovers(s string) ([]Approver, error) {
	var out []Approver
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' }) {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, rest, ok := strings.Cut(f, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("approver %q: expected NAME=PUBLICKEY[:ROLE+ROLE]", f)
		}
		key, roles, _ := strings.Cut(rest, ":")
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(key))
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("approver %s: public key: expected the base64 of %d bytes", name, ed25519.PublicKeySize)
		}
		a := Approver{Name: strings.TrimSpace(name), Key: ed25519.PublicKey(b)}
		for _, r := range strings.Split(roles, "+") {
			if r = strings.TrimSpace(r); r != "" {
				a.Roles = append(a.Roles, r)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

package chatops

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// PersonVault says how a person's Vault identity entity is found. Exactly one key is set:
// alias (their login name on an auth mount: Vault names entities itself at first login,
// e.g. entity_1a2b3c4d, so this is how most real setups are found), entity (the entity's
// name) or entity_id. Without it the subject is the entity's name.
type PersonVault struct {
	Alias    *PersonAlias `yaml:"alias"`
	Entity   string       `yaml:"entity"`
	EntityID string       `yaml:"entity_id"`
}

// PersonAlias is an entity alias: Name on the auth method mounted at Mount (e.g. oidc).
type PersonAlias struct {
	Mount string `yaml:"mount"`
	Name  string `yaml:"name"`
}

// PersonAWS is a person's IAM user, or none: `aws: {iam_user: NAME}` or `aws: none` (e.g.
// they reach AWS through IAM Identity Center). Without it the subject is the IAM user name.
type PersonAWS struct {
	IAMUser string `yaml:"iam_user"`
	// None is set by the scalar `aws: none`.
	None bool `yaml:"-"`
}

// UnmarshalYAML accepts the scalar none as well as the mapping {iam_user: NAME}.
func (a *PersonAWS) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Value != "none" {
			return fmt.Errorf("line %d: aws: expected none or a mapping {iam_user: NAME}, found %q", n.Line, n.Value)
		}
		*a = PersonAWS{None: true}
		return nil
	}
	type plain PersonAWS
	return n.Decode((*plain)(a))
}

// Identity is the person as a run carries it: where they are found in each system, no
// secrets.
func (p Person) Identity() playbooks.Identity {
	id := playbooks.Identity{Subject: p.Subject, Email: p.Email, SlackID: p.SlackID}
	if v := p.Vault; v != nil {
		id.Vault = &playbooks.VaultIdentity{Entity: v.Entity, EntityID: v.EntityID}
		if v.Alias != nil {
			id.Vault.Alias = &playbooks.VaultAlias{Mount: v.Alias.Mount, Name: v.Alias.Name}
		}
	}
	if a := p.AWS; a != nil {
		id.AWS = &playbooks.AWSIdentity{IAMUser: a.IAMUser, None: a.None}
	}
	return id
}

// Identities returns the directory as a run carries it (runs.Request.Directory).
func Identities(dir []Person) []playbooks.Identity {
	out := make([]playbooks.Identity, 0, len(dir))
	for _, p := range dir {
		out = append(out, p.Identity())
	}
	return out
}

// validatePerson checks one directory entry's systems.
func validatePerson(i int, p Person) []error {
	var errs []error
	at := fmt.Sprintf("directory[%d]", i)
	if v := p.Vault; v != nil {
		set := 0
		for _, b := range []bool{v.Alias != nil, v.Entity != "", v.EntityID != ""} {
			if b {
				set++
			}
		}
		if set != 1 {
			errs = append(errs, fmt.Errorf("%s.vault (%s): expected exactly one of alias, entity or entity_id, found %d", at, p.Subject, set))
		}
		if a := v.Alias; a != nil && (a.Mount == "" || a.Name == "") {
			errs = append(errs, fmt.Errorf("%s.vault.alias (%s): expected both mount (the auth method's path, e.g. oidc) and name (the login name), found mount %q name %q", at, p.Subject, a.Mount, a.Name))
		}
	}
	if a := p.AWS; a != nil && !a.None && a.IAMUser == "" {
		errs = append(errs, fmt.Errorf("%s.aws (%s): expected iam_user: NAME, or aws: none for a person with no IAM user", at, p.Subject))
	}
	return errs
}

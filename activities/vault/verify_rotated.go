package vault

import (
	"context"
	"fmt"
)

// VerifyRotatedInput lists the secrets that must have been rotated: each at the version an
// inventory saw before the change.
type VerifyRotatedInput struct {
	Secrets []SecretRef `json:"secrets"`
}

// VerifyRotated reads each secret's metadata from Vault now and checks that its current
// version is newer than the one the inventory saw: judged from Vault after the change, not
// from the rotation step's own report.
func (a *Activities) VerifyRotated(ctx context.Context, in VerifyRotatedInput) (VerifyResult, error) {
	res := VerifyResult{Passed: true, Checks: []Check{}}
	for _, ref := range in.Secrets {
		if err := validSegment("secret mount", ref.Mount); err != nil {
			return VerifyResult{}, err
		}
		if err := validPath("secret path", ref.Path); err != nil {
			return VerifyResult{}, err
		}
		name := ref.Mount + "/" + ref.Path
		p := ref.Mount + "/metadata/" + ref.Path
		md, err := a.Client.ReadWithContext(ctx, p)
		if err != nil {
			return VerifyResult{}, classify(err, "read secret metadata", p)
		}
		c := Check{Name: "secret " + name + " rotated"}
		switch {
		case md == nil || md.Data == nil:
			c.Detail = fmt.Sprintf("%s no longer exists; expected a version newer than %d", name, ref.Version)
		case dataInt(md.Data, "current_version") > ref.Version:
			c.Passed, c.Detail = true, fmt.Sprintf("current version %d, newer than version %d read before the change", dataInt(md.Data, "current_version"), ref.Version)
		default:
			c.Detail = fmt.Sprintf("current version is still %d; expected a version newer than %d", dataInt(md.Data, "current_version"), ref.Version)
		}
		res.Checks = append(res.Checks, c)
		res.Passed = res.Passed && c.Passed
	}
	return res, nil
}

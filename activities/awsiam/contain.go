package awsiam

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"go.temporal.io/sdk/temporal"
)

// DeactivateKeys sets in.User's access keys (all of them when in.AccessKeyIDs is empty) to
// Inactive. It reads each key's status first, so a re-run changes nothing and reports the keys
// as AlreadyInactive; a key that no longer exists counts as done and is reported as Missing. A
// key id that AWS says belongs to another user is an ErrKeyOwnerMismatch error.
func (a *Activities) DeactivateKeys(ctx context.Context, in DeactivateKeysInput) (DeactivateKeysResult, error) {
	res := DeactivateKeysResult{Deactivated: []string{}, AlreadyInactive: []string{}, Missing: []string{}}
	if err := requireUser(in.User); err != nil {
		return res, err
	}
	keys, err := a.listKeys(ctx, in.User)
	if err != nil {
		return res, err
	}
	status := map[string]types.StatusType{}
	var all []string
	for _, k := range keys {
		status[aws.ToString(k.AccessKeyId)] = k.Status
		all = append(all, aws.ToString(k.AccessKeyId))
	}
	// Every key the user has now (a fresh listing: a key created since the inventory counts
	// too), and those the caller names.
	ids := append(append([]string(nil), in.AccessKeyIDs...), all...)
	var active []string
	for _, id := range sortedUnique(ids) {
		st, ok := status[id]
		if !ok {
			if err := a.checkKeyOwner(ctx, in.User, id); err != nil {
				return DeactivateKeysResult{}, err
			}
			res.Missing = append(res.Missing, id)
			continue
		}
		if st != types.StatusTypeActive {
			res.AlreadyInactive = append(res.AlreadyInactive, id)
			continue
		}
		active = append(active, id)
	}
	// The Active keys (IAM allows two per user) are deactivated at once: one round trip.
	errs := make([]error, len(active))
	var wg sync.WaitGroup
	for i, id := range active {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = a.Client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(in.User), AccessKeyId: aws.String(id), Status: types.StatusTypeInactive})
		}()
	}
	wg.Wait()
	for i, id := range active {
		switch err := errs[i]; {
		case apiCode(err) == "NoSuchEntity":
			res.Missing = append(res.Missing, id) // deleted since it was listed
		case err != nil:
			return DeactivateKeysResult{}, classify("UpdateAccessKey", in.User, err)
		default:
			res.Deactivated = append(res.Deactivated, id)
		}
	}
	sort.Strings(res.Missing)
	return res, nil
}

// checkKeyOwner fails when AWS knows key id as another user's: the input names the wrong
// subject, and silently reporting the key as gone would hide it. A key AWS does not know
// (or will not tell about) is simply gone.
func (a *Activities) checkKeyOwner(ctx context.Context, user, id string) error {
	lu, err := a.Client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id)})
	switch code := apiCode(err); {
	case code == "NoSuchEntity" || code == "AccessDenied":
		return nil
	case err != nil:
		return classify("GetAccessKeyLastUsed", user, err)
	}
	if owner := aws.ToString(lu.UserName); owner != "" && owner != user {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("access key %s belongs to iam user %q, not %q; expected keys of the subject only", id, owner, user),
			ErrKeyOwnerMismatch, nil)
	}
	return nil
}

// RevokeSessions puts on in.User the inline policy AWS's console uses for "Revoke active
// sessions": deny everything to credentials issued before now. Re-running is harmless: when
// the policy already denies sessions issued before a later instant, that instant is kept.
func (a *Activities) RevokeSessions(ctx context.Context, in RevokeSessionsInput) (RevokeSessionsResult, error) {
	if err := requireUser(in.User); err != nil {
		return RevokeSessionsResult{}, err
	}
	name := policyNameOrDefault(in.PolicyName)
	notBefore := a.now().UTC().Truncate(time.Second)
	existing, found, err := a.userPolicy(ctx, in.User, name)
	if err != nil {
		return RevokeSessionsResult{}, err
	}
	if found {
		if t, ok := revokeCutoff(existing); ok && !t.Before(notBefore) {
			return RevokeSessionsResult{PolicyName: name, NotBefore: t.UTC().Format(time.RFC3339)}, nil
		}
	}
	doc := revokePolicyDocument(notBefore)
	if _, err := a.Client.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(in.User), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
		return RevokeSessionsResult{}, classify("PutUserPolicy", in.User, err)
	}
	return RevokeSessionsResult{PolicyName: name, NotBefore: notBefore.Format(time.RFC3339)}, nil
}

// VerifyContained checks that in.User's keys (all of them when in.AccessKeyIDs is empty) read
// Inactive or no longer exist, and that the revoke policy denies sessions by TokenIssueTime.
// Failed checks are reported with Passed false, not as errors.
func (a *Activities) VerifyContained(ctx context.Context, in VerifyContainedInput) (VerifyResult, error) {
	if err := requireUser(in.User); err != nil {
		return VerifyResult{}, err
	}
	{
		// Judged afresh from IAM: whoever the directory says the person is.
		user, none, looked := iamUserOf(in.User, in.Identity)
		if none {
			return VerifyResult{Passed: true, Checks: []Check{{Name: "not present in IAM", Passed: true, Detail: looked + ": nothing to contain"}}}, nil
		}
		if _, err := a.Client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(user)}); apiCode(err) == "NoSuchEntity" {
			return VerifyResult{Passed: true, Checks: []Check{{Name: "not present in IAM", Passed: true, Detail: "no " + looked + " (GetUser answered NoSuchEntity): nothing to contain"}}}, nil
		}
		in.User = user
	}
	keys, err := a.listKeys(ctx, in.User)
	if err != nil {
		return VerifyResult{}, err
	}
	status := map[string]types.StatusType{}
	var all []string
	for _, k := range keys {
		status[aws.ToString(k.AccessKeyId)] = k.Status
		all = append(all, aws.ToString(k.AccessKeyId))
	}
	// Every key the user has now (a fresh listing: a key created since the inventory counts
	// too), and those the caller names.
	ids := append(append([]string(nil), in.AccessKeyIDs...), all...)
	res := VerifyResult{Passed: true, Checks: []Check{}}
	add := func(c Check) {
		res.Checks = append(res.Checks, c)
		res.Passed = res.Passed && c.Passed
	}
	for _, id := range sortedUnique(ids) {
		c := Check{Name: "access_key_inactive:" + id}
		switch st, ok := status[id]; {
		case !ok:
			c.Passed, c.Detail = true, fmt.Sprintf("access key %s no longer exists", id)
		case st == types.StatusTypeActive:
			c.Detail = fmt.Sprintf("access key %s is Active; expected Inactive", id)
		default:
			c.Passed, c.Detail = true, fmt.Sprintf("access key %s is %s", id, st)
		}
		add(c)
	}

	name := policyNameOrDefault(in.PolicyName)
	c := Check{Name: "revoke_sessions_policy:" + name}
	doc, found, err := a.userPolicy(ctx, in.User, name)
	if err != nil {
		return VerifyResult{}, err
	}
	switch t, ok := revokeCutoff(doc); {
	case !found:
		c.Detail = fmt.Sprintf("inline policy %s is not attached to user %s; expected a deny-all policy conditioned on aws:TokenIssueTime", name, in.User)
	case !ok:
		c.Detail = fmt.Sprintf("inline policy %s does not deny all actions with a DateLessThan aws:TokenIssueTime condition", name)
	default:
		c.Passed, c.Detail = true, fmt.Sprintf("inline policy %s denies all actions to sessions issued before %s", name, t.UTC().Format(time.RFC3339))
	}
	add(c)
	return res, nil
}

// userPolicy returns the decoded document of user's inline policy name, or found false.
func (a *Activities) userPolicy(ctx context.Context, user, name string) (doc string, found bool, err error) {
	out, err := a.Client.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(name)})
	if apiCode(err) == "NoSuchEntity" {
		// Either the policy or the user is missing: tell them apart, so that an unknown
		// user is an error and not a failed check.
		if _, err := a.Client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(user)}); err != nil {
			return "", false, classify("GetUser", user, err)
		}
		return "", false, nil
	}
	if err != nil {
		return "", false, classify("GetUserPolicy", user, err)
	}
	doc = aws.ToString(out.PolicyDocument)
	// AWS returns the document URL-encoded (RFC 3986). PathUnescape, unlike QueryUnescape,
	// keeps a literal '+' (as in a +00:00 offset) intact.
	if dec, err := url.PathUnescape(doc); err == nil {
		doc = dec
	}
	return doc, true, nil
}

func policyNameOrDefault(name string) string {
	if name == "" {
		return DefaultRevokePolicyName
	}
	return name
}

type revokeStatement struct {
	Effect    string                       `json:"Effect"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition"`
}

// revokePolicyDocument is the policy AWS's console attaches for "Revoke active sessions".
func revokePolicyDocument(notBefore time.Time) string {
	doc := struct {
		Version   string            `json:"Version"`
		Statement []revokeStatement `json:"Statement"`
	}{
		Version: "2012-10-17",
		Statement: []revokeStatement{{
			Effect:    "Deny",
			Action:    []string{"*"},
			Resource:  []string{"*"},
			Condition: map[string]map[string]string{"DateLessThan": {"aws:TokenIssueTime": notBefore.UTC().Format(time.RFC3339)}},
		}},
	}
	b, _ := json.Marshal(doc) // cannot fail: plain strings
	return string(b)
}

// revokeCutoff finds, in a policy document, a statement denying every action on every
// resource to sessions issued before some instant, and returns that instant.
func revokeCutoff(doc string) (time.Time, bool) {
	var p struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return time.Time{}, false
	}
	var stmts []struct {
		Effect    string
		Action    json.RawMessage
		Resource  json.RawMessage
		Condition map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(p.Statement, &stmts); err != nil {
		var one struct {
			Effect    string
			Action    json.RawMessage
			Resource  json.RawMessage
			Condition map[string]map[string]json.RawMessage
		}
		if json.Unmarshal(p.Statement, &one) != nil {
			return time.Time{}, false
		}
		stmts = append(stmts, one)
	}
	var best time.Time
	for _, s := range stmts {
		if s.Effect != "Deny" || !slices.Contains(stringOrList(s.Action), "*") || !slices.Contains(stringOrList(s.Resource), "*") {
			continue
		}
		for op, kv := range s.Condition {
			if op != "DateLessThan" {
				continue
			}
			for k, v := range kv {
				if !strings.EqualFold(k, "aws:TokenIssueTime") {
					continue
				}
				for _, ts := range stringOrList(v) {
					if t, err := time.Parse(time.RFC3339, ts); err == nil && t.After(best) {
						best = t
					}
				}
			}
		}
	}
	return best, !best.IsZero()
}

// stringOrList decodes a policy element that may be one string or a list of strings.
func stringOrList(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(raw, &many)
	return many
}

func sortedUnique(in []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

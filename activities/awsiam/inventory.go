package awsiam

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"go.temporal.io/sdk/temporal"
)

// Inventory lists what in.User can use to reach AWS: access keys with their last use, console
// password, MFA devices, groups and inline policies. It never reads secrets.
//
// The user is the directory entry's IAM user when there is one. A person with no IAM user
// (the directory says aws: none, or no user has that name) is a result with Status absent,
// and an IAM that cannot be asked within Patience (or refuses firebreak's credentials) one
// with Status unavailable, so that the run contains the other systems.
func (a *Activities) Inventory(ctx context.Context, in InventoryInput) (InventoryResult, error) {
	if err := requireUser(in.User); err != nil {
		return InventoryResult{}, err
	}
	user, none, looked := iamUserOf(in.User, in.Identity)
	if none {
		return emptyInventory(in.User, StatusAbsent, "not present in IAM: "+looked, looked), nil
	}
	var res InventoryResult
	final, err := a.patiently(ctx, func() error {
		var err error
		res, err = a.inventory(ctx, InventoryInput{User: user})
		return err
	})
	switch {
	case err == nil:
		res.Subject, res.Present, res.Status, res.LookedFor = in.User, true, StatusFound, looked
		res.Detail = "IAM user " + res.UserName + " (" + res.ARN + ")"
		return res, nil
	case errorType(err) == ErrUnknownSubject:
		return emptyInventory(in.User, StatusAbsent, "not present in IAM: no "+looked, looked), nil
	case errorType(err) == ErrInvalidInput:
		return InventoryResult{}, err
	case !final:
		return InventoryResult{}, err // transient: Temporal retries
	}
	return emptyInventory(in.User, StatusUnavailable, "IAM could not be asked: "+errorMessage(err), looked), nil
}

func (a *Activities) inventory(ctx context.Context, in InventoryInput) (InventoryResult, error) {
	u, err := a.Client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(in.User)})
	if err != nil {
		return InventoryResult{}, classify("GetUser", in.User, err)
	}
	res := InventoryResult{
		UserName:       aws.ToString(u.User.UserName),
		ARN:            aws.ToString(u.User.Arn),
		AccessKeys:     []AccessKey{},
		AccessKeyIDs:   []string{},
		ActiveKeyIDs:   []string{},
		MFADevices:     []MFADevice{},
		Groups:         []string{},
		InlinePolicies: []string{},
	}

	keys, err := a.listKeys(ctx, in.User)
	if err != nil {
		return InventoryResult{}, err
	}
	for _, k := range keys {
		id := aws.ToString(k.AccessKeyId)
		ak := AccessKey{AccessKeyID: id, Status: string(k.Status), CreateDate: rfc3339(k.CreateDate)}
		lu, err := a.Client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKeyId})
		switch {
		case apiCode(err) == "NoSuchEntity":
			continue // deleted since it was listed
		case err != nil:
			return InventoryResult{}, classify("GetAccessKeyLastUsed", in.User, err)
		case lu.AccessKeyLastUsed != nil && lu.AccessKeyLastUsed.LastUsedDate != nil:
			ak.LastUsedDate = rfc3339(lu.AccessKeyLastUsed.LastUsedDate)
			ak.LastUsedService = notNA(aws.ToString(lu.AccessKeyLastUsed.ServiceName))
			ak.LastUsedRegion = notNA(aws.ToString(lu.AccessKeyLastUsed.Region))
		}
		res.AccessKeys = append(res.AccessKeys, ak)
		res.AccessKeyIDs = append(res.AccessKeyIDs, id)
		if k.Status == types.StatusTypeActive {
			res.ActiveKeyIDs = append(res.ActiveKeyIDs, id)
		}
	}
	sort.Slice(res.AccessKeys, func(i, j int) bool { return res.AccessKeys[i].AccessKeyID < res.AccessKeys[j].AccessKeyID })
	sort.Strings(res.AccessKeyIDs)
	sort.Strings(res.ActiveKeyIDs)

	lp, err := a.Client.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(in.User)})
	switch {
	case apiCode(err) == "NoSuchEntity":
	case err != nil:
		return InventoryResult{}, classify("GetLoginProfile", in.User, err)
	default:
		res.HasLoginProfile = true
		if lp.LoginProfile != nil {
			res.LoginProfileCreated = rfc3339(lp.LoginProfile.CreateDate)
		}
	}

	mfa, err := a.listMFA(ctx, in.User)
	if err != nil {
		return InventoryResult{}, err
	}
	for _, d := range mfa {
		res.MFADevices = append(res.MFADevices, MFADevice{SerialNumber: aws.ToString(d.SerialNumber), EnableDate: rfc3339(d.EnableDate)})
	}
	sort.Slice(res.MFADevices, func(i, j int) bool { return res.MFADevices[i].SerialNumber < res.MFADevices[j].SerialNumber })

	if res.Groups, err = a.listGroups(ctx, in.User); err != nil {
		return InventoryResult{}, err
	}
	if res.InlinePolicies, err = a.listPolicies(ctx, in.User); err != nil {
		return InventoryResult{}, err
	}
	return res, nil
}

func (a *Activities) listKeys(ctx context.Context, user string) ([]types.AccessKeyMetadata, error) {
	var out []types.AccessKeyMetadata
	p := iam.NewListAccessKeysPaginator(a.Client, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("ListAccessKeys", user, err)
		}
		out = append(out, page.AccessKeyMetadata...)
	}
	return out, nil
}

func (a *Activities) listMFA(ctx context.Context, user string) ([]types.MFADevice, error) {
	var out []types.MFADevice
	p := iam.NewListMFADevicesPaginator(a.Client, &iam.ListMFADevicesInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("ListMFADevices", user, err)
		}
		out = append(out, page.MFADevices...)
	}
	return out, nil
}

func (a *Activities) listGroups(ctx context.Context, user string) ([]string, error) {
	out := []string{}
	p := iam.NewListGroupsForUserPaginator(a.Client, &iam.ListGroupsForUserInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("ListGroupsForUser", user, err)
		}
		for _, g := range page.Groups {
			out = append(out, aws.ToString(g.GroupName))
		}
	}
	sort.Strings(out)
	return out, nil
}

func (a *Activities) listPolicies(ctx context.Context, user string) ([]string, error) {
	out := []string{}
	p := iam.NewListUserPoliciesPaginator(a.Client, &iam.ListUserPoliciesInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, classify("ListUserPolicies", user, err)
		}
		out = append(out, page.PolicyNames...)
	}
	sort.Strings(out)
	return out, nil
}

func requireUser(user string) error {
	if strings.TrimSpace(user) == "" {
		return invalidInput("an IAM user name is required, got an empty user")
	}
	return nil
}

func rfc3339(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// notNA maps AWS's "N/A" (never used) to empty.
func notNA(s string) string {
	if s == "N/A" {
		return ""
	}
	return s
}

func errorType(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Type()
	}
	return ""
}

func errorMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

package awsiam

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// DeleteLoginProfile deletes in.User's console password. A user without one is reported as
// AlreadyAbsent; an unknown user is an ErrUnknownSubject error.
func (a *Activities) DeleteLoginProfile(ctx context.Context, in DeleteLoginProfileInput) (DeleteLoginProfileResult, error) {
	if err := requireUser(in.User); err != nil {
		return DeleteLoginProfileResult{}, err
	}
	_, err := a.Client.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String(in.User)})
	switch {
	case err == nil:
		return DeleteLoginProfileResult{Deleted: true}, nil
	case apiCode(err) != "NoSuchEntity":
		return DeleteLoginProfileResult{}, classify("DeleteLoginProfile", in.User, err)
	}
	// NoSuchEntity means no profile or no user: only the latter is an error.
	if _, err := a.Client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(in.User)}); err != nil {
		return DeleteLoginProfileResult{}, classify("GetUser", in.User, err)
	}
	return DeleteLoginProfileResult{AlreadyAbsent: true}, nil
}

// DeactivateMFADevices unassigns MFA devices from in.User (all of them when
// in.SerialNumbers is empty) and, with in.DeleteVirtual, deletes the virtual ones. Devices no
// longer assigned are reported as AlreadyRemoved.
func (a *Activities) DeactivateMFADevices(ctx context.Context, in DeactivateMFADevicesInput) (DeactivateMFADevicesResult, error) {
	res := DeactivateMFADevicesResult{Deactivated: []string{}, AlreadyRemoved: []string{}, DeletedVirtual: []string{}, AlreadyDeleted: []string{}}
	if err := requireUser(in.User); err != nil {
		return res, err
	}
	devices, err := a.listMFA(ctx, in.User)
	if err != nil {
		return res, err
	}
	assigned := map[string]bool{}
	var all []string
	for _, d := range devices {
		assigned[aws.ToString(d.SerialNumber)] = true
		all = append(all, aws.ToString(d.SerialNumber))
	}
	serials := in.SerialNumbers
	if len(serials) == 0 {
		serials = all
	}
	for _, serial := range sortedUnique(serials) {
		if assigned[serial] {
			_, err := a.Client.DeactivateMFADevice(ctx, &iam.DeactivateMFADeviceInput{UserName: aws.String(in.User), SerialNumber: aws.String(serial)})
			switch {
			case apiCode(err) == "NoSuchEntity":
				res.AlreadyRemoved = append(res.AlreadyRemoved, serial)
			case err != nil:
				return DeactivateMFADevicesResult{}, classify("DeactivateMFADevice", in.User, err)
			default:
				res.Deactivated = append(res.Deactivated, serial)
			}
		} else {
			res.AlreadyRemoved = append(res.AlreadyRemoved, serial)
		}
		// Virtual devices have ARN serials (arn:aws:iam::ACCOUNT:mfa/NAME); hardware ones do not.
		if in.DeleteVirtual && strings.HasPrefix(serial, "arn:") && strings.Contains(serial, ":mfa/") {
			_, err := a.Client.DeleteVirtualMFADevice(ctx, &iam.DeleteVirtualMFADeviceInput{SerialNumber: aws.String(serial)})
			switch {
			case apiCode(err) == "NoSuchEntity":
				// Deleted by an earlier attempt whose result was lost, or by someone else.
				res.AlreadyDeleted = append(res.AlreadyDeleted, serial)
			case err != nil:
				return DeactivateMFADevicesResult{}, classify("DeleteVirtualMFADevice", in.User, err)
			default:
				res.DeletedVirtual = append(res.DeletedVirtual, serial)
			}
		}
	}
	return res, nil
}

// RemoveFromGroups removes in.User from in.Groups (all their groups when empty). Groups the
// user is not in are reported as NotMember.
func (a *Activities) RemoveFromGroups(ctx context.Context, in RemoveFromGroupsInput) (RemoveFromGroupsResult, error) {
	res := RemoveFromGroupsResult{Removed: []string{}, NotMember: []string{}}
	if err := requireUser(in.User); err != nil {
		return res, err
	}
	current, err := a.listGroups(ctx, in.User)
	if err != nil {
		return res, err
	}
	groups := in.Groups
	if len(groups) == 0 {
		groups = current
	}
	for _, g := range sortedUnique(groups) {
		if !slices.Contains(current, g) {
			res.NotMember = append(res.NotMember, g)
			continue
		}
		_, err := a.Client.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: aws.String(in.User), GroupName: aws.String(g)})
		switch {
		case apiCode(err) == "NoSuchEntity":
			res.NotMember = append(res.NotMember, g) // group deleted or user removed meanwhile
		case err != nil:
			return RemoveFromGroupsResult{}, classify("RemoveUserFromGroup", in.User, err)
		default:
			res.Removed = append(res.Removed, g)
		}
	}
	return res, nil
}

// TagUser sets tags on in.User, overwriting existing values of the same keys.
func (a *Activities) TagUser(ctx context.Context, in TagUserInput) (TagUserResult, error) {
	if err := requireUser(in.User); err != nil {
		return TagUserResult{}, err
	}
	if len(in.Tags) == 0 {
		return TagUserResult{}, invalidInput("no tags to set on iam user %q; expected at least one key", in.User)
	}
	keys := make([]string, 0, len(in.Tags))
	for k := range in.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tags := make([]types.Tag, 0, len(keys))
	for _, k := range keys {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(in.Tags[k])})
	}
	if _, err := a.Client.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(in.User), Tags: tags}); err != nil {
		return TagUserResult{}, classify("TagUser", in.User, err)
	}
	return TagUserResult{Tagged: keys}, nil
}

package awsiam

import (
	"context"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// ListKeysInput names the person whose IAM keys and console login to list.
type ListKeysInput struct {
	// User is the person (the IAM user name unless the directory says otherwise).
	User string `json:"user"`
	// Identity is the user's directory entry, filled in by the interpreter.
	Identity *DirectoryEntry `json:"identity,omitempty"`
}

// ListKeysResult is the evidence the first cut needs from IAM: the access keys as they are
// now and whether a console login exists. Lists are sorted; no secret is ever included.
type ListKeysResult struct {
	Subject string `json:"subject"`
	// Present, Status, Detail and LookedFor are as in InventoryResult.
	Present         bool        `json:"present"`
	Status          string      `json:"status"`
	Detail          string      `json:"detail"`
	LookedFor       string      `json:"looked_for"`
	UserName        string      `json:"user_name"`
	AccessKeys      []AccessKey `json:"access_keys"` // id, status, creation date (no last-used data: that is Inventory's)
	AccessKeyIDs    []string    `json:"access_key_ids"`
	ActiveKeyIDs    []string    `json:"active_key_ids"`
	HasLoginProfile bool        `json:"has_login_profile"`
}

// ListKeys lists the user's access keys and reads their login profile, the two at once: one
// round trip to IAM, whatever else the user holds. It is what containment needs before its
// first cut (deactivate the keys, deny older sessions); Inventory, with last-used data, MFA
// devices, groups and policies, follows. A person with no IAM user and an IAM that cannot be
// asked are results, as in Inventory. It only reads.
func (a *Activities) ListKeys(ctx context.Context, in ListKeysInput) (ListKeysResult, error) {
	if err := requireUser(in.User); err != nil {
		return ListKeysResult{}, err
	}
	user, none, looked := iamUserOf(in.User, in.Identity)
	res := ListKeysResult{Subject: in.User, LookedFor: looked, Status: StatusAbsent, AccessKeys: []AccessKey{}, AccessKeyIDs: []string{}, ActiveKeyIDs: []string{}}
	if none {
		res.Detail = "not present in IAM: " + looked
		return res, nil
	}
	var keys []types.AccessKeyMetadata
	var hasLogin bool
	final, err := a.patiently(ctx, func() error {
		var err error
		keys, hasLogin, err = a.keysAndLogin(ctx, user)
		return err
	})
	switch {
	case err == nil:
	case errorType(err) == ErrUnknownSubject:
		res.Detail = "not present in IAM: no " + looked
		return res, nil
	case errorType(err) == ErrInvalidInput:
		return ListKeysResult{}, err
	case !final:
		return ListKeysResult{}, err // transient: Temporal retries
	default:
		res.Status, res.Detail = StatusUnavailable, "IAM could not be asked: "+errorMessage(err)
		return res, nil
	}
	res.Present, res.Status, res.UserName, res.HasLoginProfile = true, StatusFound, user, hasLogin
	res.Detail = "IAM user " + user
	for _, k := range keys {
		id := aws.ToString(k.AccessKeyId)
		res.AccessKeys = append(res.AccessKeys, AccessKey{AccessKeyID: id, Status: string(k.Status), CreateDate: rfc3339(k.CreateDate)})
		res.AccessKeyIDs = append(res.AccessKeyIDs, id)
		if k.Status == types.StatusTypeActive {
			res.ActiveKeyIDs = append(res.ActiveKeyIDs, id)
		}
	}
	sort.Slice(res.AccessKeys, func(i, j int) bool { return res.AccessKeys[i].AccessKeyID < res.AccessKeys[j].AccessKeyID })
	sort.Strings(res.AccessKeyIDs)
	sort.Strings(res.ActiveKeyIDs)
	return res, nil
}

// keysAndLogin lists user's access keys while it reads their login profile.
func (a *Activities) keysAndLogin(ctx context.Context, user string) ([]types.AccessKeyMetadata, bool, error) {
	var wg sync.WaitGroup
	var hasLogin bool
	var profileErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := a.Client.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(user)})
		switch {
		case apiCode(err) == "NoSuchEntity": // no console login (or no user: ListAccessKeys says which)
		case err != nil:
			profileErr = classify("GetLoginProfile", user, err)
		default:
			hasLogin = true
		}
	}()
	keys, err := a.listKeys(ctx, user)
	wg.Wait()
	if err != nil {
		return nil, false, err
	}
	return keys, hasLogin, profileErr
}

package awsiam

import (
	"context"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// ListKeysInput names the IAM user whose keys and console login to list.
type ListKeysInput struct {
	User string `json:"user"`
}

// ListKeysResult is the evidence the first cut needs from IAM: the access keys as they are
// now and whether a console login exists. Lists are sorted; no secret is ever included.
type ListKeysResult struct {
	UserName        string      `json:"user_name"`
	AccessKeys      []AccessKey `json:"access_keys"` // id, status, creation date (no last-used data: that is Inventory's)
	AccessKeyIDs    []string    `json:"access_key_ids"`
	ActiveKeyIDs    []string    `json:"active_key_ids"`
	HasLoginProfile bool        `json:"has_login_profile"`
}

// ListKeys lists the user's access keys and reads their login profile, the two at once: one
// round trip to IAM, whatever else the user holds. It is what containment needs before its
// first cut (deactivate the keys, deny older sessions); Inventory, with last-used data, MFA
// devices, groups and policies, follows. It only reads.
func (a *Activities) ListKeys(ctx context.Context, in ListKeysInput) (ListKeysResult, error) {
	if err := requireUser(in.User); err != nil {
		return ListKeysResult{}, err
	}
	var (
		wg         sync.WaitGroup
		keys       []types.AccessKeyMetadata
		keysErr    error
		hasLogin   bool
		profileErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := a.Client.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(in.User)})
		switch {
		case apiCode(err) == "NoSuchEntity": // no console login (or no user: ListAccessKeys says which)
		case err != nil:
			profileErr = classify("GetLoginProfile", in.User, err)
		default:
			hasLogin = true
		}
	}()
	keys, keysErr = a.listKeys(ctx, in.User)
	wg.Wait()
	if keysErr != nil {
		return ListKeysResult{}, keysErr
	}
	if profileErr != nil {
		return ListKeysResult{}, profileErr
	}
	res := ListKeysResult{UserName: in.User, AccessKeys: []AccessKey{}, AccessKeyIDs: []string{}, ActiveKeyIDs: []string{}, HasLoginProfile: hasLogin}
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

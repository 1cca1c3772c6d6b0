package awsiam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// DirectoryEntry is one person of firebreak.yaml's directory as a run carries it: the
// subject playbooks name and where that person is found in each system. The interpreter
// hands the entry of an action's user to the activity (an internal argument); without one,
// the user is the IAM user name.
type DirectoryEntry struct {
	Subject string          `json:"subject"`
	AWS     *AWSIdentity    `json:"aws,omitempty"`
	Vault   json.RawMessage `json:"vault,omitempty"` // vault's part; not read here
}

// AWSIdentity says which IAM user the person is, or that they have none (None: e.g. they
// reach AWS through IAM Identity Center).
type AWSIdentity struct {
	IAMUser string `json:"iam_user,omitempty"`
	None    bool   `json:"none,omitempty"`
}

// Presence statuses of a user in IAM, as Inventory reports them.
const (
	StatusFound       = "found"
	StatusAbsent      = "absent"      // no IAM user (per the directory, or none by that name)
	StatusUnavailable = "unavailable" // IAM could not be asked within the inventory's patience
)

// iamUserOf resolves the IAM user name of user through its directory entry: "" with none
// true when the directory says the person has no IAM user.
func iamUserOf(user string, e *DirectoryEntry) (name string, none bool, lookedFor string) {
	switch {
	case e != nil && e.AWS != nil && e.AWS.None:
		return "", true, fmt.Sprintf("no IAM user: the directory says %q has none (aws: none)", e.Subject)
	case e != nil && e.AWS != nil && e.AWS.IAMUser != "":
		return e.AWS.IAMUser, false, fmt.Sprintf("IAM user %q (directory entry of %q)", e.AWS.IAMUser, e.Subject)
	default:
		return user, false, fmt.Sprintf("IAM user %q (no directory entry: subject = IAM user name)", user)
	}
}

// patiently runs f once. A transient failure (transport, throttling, 5xx) is returned as an
// error, so Temporal retries the activity (an inventory resumes from its heartbeat), until
// this is the activity's last attempt or Patience has passed since it was first scheduled:
// then patiently reports it gone for good (true), and the caller reports the system
// unavailable instead of failing, so that the run contains the other systems.
func (a *Activities) patiently(ctx context.Context, f func() error) (gaveUp bool, err error) {
	err = f()
	var appErr *temporal.ApplicationError
	if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) {
		return err != nil, err
	}
	if !activity.IsActivity(ctx) {
		return true, err
	}
	info := activity.GetInfo(ctx)
	last := info.RetryPolicy != nil && info.RetryPolicy.MaximumAttempts > 0 && info.Attempt >= info.RetryPolicy.MaximumAttempts
	expired := a.Patience > 0 && !info.ScheduledTime.IsZero() && time.Since(info.ScheduledTime) >= a.Patience
	return last || expired, err
}

func emptyInventory(subject, status, detail, lookedFor string) InventoryResult {
	return InventoryResult{
		Subject: subject, Status: status, Detail: detail, LookedFor: lookedFor,
		AccessKeys: []AccessKey{}, AccessKeyIDs: []string{}, ActiveKeyIDs: []string{},
		MFADevices: []MFADevice{}, Groups: []string{}, InlinePolicies: []string{},
	}
}

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

// patiently runs f until it succeeds, fails for a reason a retry cannot fix, or the
// activities' patience has passed; transient failures (throttling, transport, 5xx) are
// retried with backoff.
func (a *Activities) patiently(ctx context.Context, f func() error) error {
	patience := a.Patience
	if patience == 0 {
		patience = 20 * time.Second
	}
	deadline := time.Now().Add(patience)
	wait := 200 * time.Millisecond
	for {
		err := f()
		var appErr *temporal.ApplicationError
		if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) || time.Now().Add(wait).After(deadline) {
			return err
		}
		activity.RecordHeartbeat(ctx, err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func emptyInventory(subject, status, detail, lookedFor string) InventoryResult {
	return InventoryResult{
		Subject: subject, Status: status, Detail: detail, LookedFor: lookedFor,
		AccessKeys: []AccessKey{}, AccessKeyIDs: []string{}, ActiveKeyIDs: []string{},
		MFADevices: []MFADevice{}, Groups: []string{}, InlinePolicies: []string{},
	}
}

// Package awsiam holds firebreak's AWS IAM activities: inventory of a user's credentials,
// deactivating access keys, revoking active sessions with AWS's own deny policy, verifying
// containment, and removing console, MFA and group access. Every activity is idempotent and
// returns classified errors (see ErrUnknownSubject and the other Err types).
//
// No activity ever reads or returns a secret access key.
package awsiam

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
)

// IAMAPI is the part of the IAM client the activities use; *iam.Client satisfies it.
type IAMAPI interface {
	GetUser(ctx context.Context, in *iam.GetUserInput, optFns ...func(*iam.Options)) (*iam.GetUserOutput, error)
	ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, optFns ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error)
	GetAccessKeyLastUsed(ctx context.Context, in *iam.GetAccessKeyLastUsedInput, optFns ...func(*iam.Options)) (*iam.GetAccessKeyLastUsedOutput, error)
	UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	GetLoginProfile(ctx context.Context, in *iam.GetLoginProfileInput, optFns ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error)
	DeleteLoginProfile(ctx context.Context, in *iam.DeleteLoginProfileInput, optFns ...func(*iam.Options)) (*iam.DeleteLoginProfileOutput, error)
	ListMFADevices(ctx context.Context, in *iam.ListMFADevicesInput, optFns ...func(*iam.Options)) (*iam.ListMFADevicesOutput, error)
	DeactivateMFADevice(ctx context.Context, in *iam.DeactivateMFADeviceInput, optFns ...func(*iam.Options)) (*iam.DeactivateMFADeviceOutput, error)
	DeleteVirtualMFADevice(ctx context.Context, in *iam.DeleteVirtualMFADeviceInput, optFns ...func(*iam.Options)) (*iam.DeleteVirtualMFADeviceOutput, error)
	ListGroupsForUser(ctx context.Context, in *iam.ListGroupsForUserInput, optFns ...func(*iam.Options)) (*iam.ListGroupsForUserOutput, error)
	RemoveUserFromGroup(ctx context.Context, in *iam.RemoveUserFromGroupInput, optFns ...func(*iam.Options)) (*iam.RemoveUserFromGroupOutput, error)
	PutUserPolicy(ctx context.Context, in *iam.PutUserPolicyInput, optFns ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error)
	GetUserPolicy(ctx context.Context, in *iam.GetUserPolicyInput, optFns ...func(*iam.Options)) (*iam.GetUserPolicyOutput, error)
	ListUserPolicies(ctx context.Context, in *iam.ListUserPoliciesInput, optFns ...func(*iam.Options)) (*iam.ListUserPoliciesOutput, error)
	TagUser(ctx context.Context, in *iam.TagUserInput, optFns ...func(*iam.Options)) (*iam.TagUserOutput, error)
	CreateAccessKey(ctx context.Context, in *iam.CreateAccessKeyInput, optFns ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error)
	DeleteAccessKey(ctx context.Context, in *iam.DeleteAccessKeyInput, optFns ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
}

var _ IAMAPI = (*iam.Client)(nil)

// Activities are the IAM activities, bound to one IAM client.
type Activities struct {
	Client  IAMAPI
	Now     func() time.Time // nil: time.Now
	Secrets SecretStore      // where RotateKey stores new secret access keys; nil: RotateKey fails
	// Patience bounds how long, from when Inventory was first scheduled, Temporal retries it
	// while IAM is unreachable, throttling or failing; after that (and always on the retry
	// policy's last attempt) it reports IAM unavailable instead of failing. 0: the last
	// attempt only.
	Patience time.Duration
}

// Register registers a's methods as activities on r, named ActivityPrefix plus the method
// name ("awsiam.Inventory"). Any worker.Registry (a worker.Worker) satisfies r.
func Register(r worker.ActivityRegistry, a *Activities) {
	r.RegisterActivityWithOptions(a, activity.RegisterOptions{Name: ActivityPrefix})
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// DefaultRevokePolicyName is the inline policy RevokeSessions puts when no name is given.
const DefaultRevokePolicyName = "firebreak-revoke-older-sessions"

// InventoryInput names the IAM user to inventory.
type InventoryInput struct {
	User string `json:"user"`
	// Identity is the user's directory entry, filled in by the interpreter from
	// firebreak.yaml's directory: it may name another IAM user, or none.
	Identity *DirectoryEntry `json:"identity,omitempty"`
}

// AccessKey describes one access key, never its secret. Dates are RFC 3339; the LastUsed
// fields are empty when AWS has no record of the key being used.
type AccessKey struct {
	AccessKeyID     string `json:"access_key_id"`
	Status          string `json:"status"`
	CreateDate      string `json:"create_date"`
	LastUsedDate    string `json:"last_used_date"`
	LastUsedService string `json:"last_used_service"`
	LastUsedRegion  string `json:"last_used_region"`
}

// MFADevice is an MFA device assigned to a user.
type MFADevice struct {
	SerialNumber string `json:"serial_number"`
	EnableDate   string `json:"enable_date"`
}

// InventoryResult is what a user can sign in or call AWS with. Lists are sorted.
type InventoryResult struct {
	// Present is true when the IAM user exists (Status found). Status absent: the person has
	// no IAM user (the directory says none, or no user has the name looked for); unavailable:
	// IAM could not be asked. Detail says which, LookedFor where it looked.
	Subject             string      `json:"subject"` // the user asked for (the person)
	Present             bool        `json:"present"`
	Status              string      `json:"status"`
	Detail              string      `json:"detail"`
	LookedFor           string      `json:"looked_for"`
	UserName            string      `json:"user_name"`
	ARN                 string      `json:"arn"`
	AccessKeys          []AccessKey `json:"access_keys"`
	AccessKeyIDs        []string    `json:"access_key_ids"`
	ActiveKeyIDs        []string    `json:"active_key_ids"`
	HasLoginProfile     bool        `json:"has_login_profile"`
	LoginProfileCreated string      `json:"login_profile_created"`
	MFADevices          []MFADevice `json:"mfa_devices"`
	Groups              []string    `json:"groups"`
	InlinePolicies      []string    `json:"inline_policies"`
}

// DeactivateKeysInput names the user and the access keys to deactivate. An empty
// AccessKeyIDs means every key of the user.
type DeactivateKeysInput struct {
	User         string   `json:"user"`
	AccessKeyIDs []string `json:"access_key_ids"`
}

// DeactivateKeysResult says what happened to each key: deactivated now, already inactive, or
// no longer existing (which counts as done).
type DeactivateKeysResult struct {
	Deactivated     []string `json:"deactivated"`
	AlreadyInactive []string `json:"already_inactive"`
	Missing         []string `json:"missing"`
}

// RevokeSessionsInput names the user whose active sessions to revoke and the inline policy to
// put (default DefaultRevokePolicyName).
type RevokeSessionsInput struct {
	User       string `json:"user"`
	PolicyName string `json:"policy_name"`
}

// RevokeSessionsResult names the policy put and the instant (RFC 3339) before which issued
// sessions are denied.
type RevokeSessionsResult struct {
	PolicyName string `json:"policy_name"`
	NotBefore  string `json:"not_before"`
}

// VerifyContainedInput says what containment to verify: the user's keys (empty: every key of
// the user) are inactive and the revoke policy (default DefaultRevokePolicyName) is attached.
type VerifyContainedInput struct {
	User         string   `json:"user"`
	AccessKeyIDs []string `json:"access_key_ids"`
	PolicyName   string   `json:"policy_name"`
	// Identity is the user's directory entry (filled in by the interpreter).
	Identity *DirectoryEntry `json:"identity,omitempty"`
}

// Check is one verified condition.
type Check struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}

// VerifyResult is the outcome of a verification: Passed when every check passed.
type VerifyResult struct {
	Passed bool    `json:"passed"`
	Checks []Check `json:"checks"`
}

// DeleteLoginProfileInput names the user whose console password to delete.
type DeleteLoginProfileInput struct {
	User string `json:"user"`
}

// DeleteLoginProfileResult says whether a profile was deleted now or was already absent.
type DeleteLoginProfileResult struct {
	Deleted       bool `json:"deleted"`
	AlreadyAbsent bool `json:"already_absent"`
}

// DeactivateMFADevicesInput names the user and the MFA serial numbers to deactivate (empty:
// every device assigned to the user). With DeleteVirtual, deactivated virtual devices are
// also deleted so they cannot be re-enabled.
type DeactivateMFADevicesInput struct {
	User          string   `json:"user"`
	SerialNumbers []string `json:"serial_numbers"`
	DeleteVirtual bool     `json:"delete_virtual"`
}

// DeactivateMFADevicesResult lists the devices deactivated now, those no longer assigned to
// the user, the virtual devices deleted now, and those already gone (a retry after a lost
// result sees its own earlier deletion as NoSuchEntity).
type DeactivateMFADevicesResult struct {
	Deactivated    []string `json:"deactivated"`
	AlreadyRemoved []string `json:"already_removed"`
	DeletedVirtual []string `json:"deleted_virtual"`
	AlreadyDeleted []string `json:"already_deleted"`
}

// RemoveFromGroupsInput names the user and the groups to remove them from (empty: every
// group they belong to).
type RemoveFromGroupsInput struct {
	User   string   `json:"user"`
	Groups []string `json:"groups"`
}

// RemoveFromGroupsResult lists the groups left now and those the user was not a member of.
type RemoveFromGroupsResult struct {
	Removed   []string `json:"removed"`
	NotMember []string `json:"not_member"`
}

// TagUserInput names the user and the tags to set (existing keys are overwritten).
type TagUserInput struct {
	User string            `json:"user"`
	Tags map[string]string `json:"tags"`
}

// TagUserResult lists the tag keys set, sorted.
type TagUserResult struct {
	Tagged []string `json:"tagged"`
}

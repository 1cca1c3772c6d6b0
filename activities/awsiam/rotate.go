package awsiam

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// More application error types of the key activities.
const (
	// ErrKeyActive: DeleteKeys was asked to delete an Active key; deactivate it first.
	ErrKeyActive = "KeyActive"
	// ErrTwoActiveKeys: RotateKey found two Active keys, so it cannot create a third; a
	// person must decide which one to retire.
	ErrTwoActiveKeys = "TwoActiveKeys"
	// ErrKeyLimit: RotateKey found the user at the two-key limit with no inactive spare to
	// remove (the old key is already Inactive and the other key is Active).
	ErrKeyLimit = "KeyLimit"
	// ErrRotationVerify: after rotating, the new key did not read Active.
	ErrRotationVerify = "RotationVerifyFailed"
)

// SecretStore keeps a new secret access key where the developer will fetch it. RotateKey
// writes the key into it inside the activity, so the secret never reaches workflow history.
// firebreak's worker implements it over Vault KV v2 (activities/vault.KVStore).
type SecretStore interface {
	// PutSecret writes data as a new version of the secret at path on mount and returns the
	// version written. Errors must not carry data.
	PutSecret(ctx context.Context, mount, path string, data map[string]string) (version int, err error)
}

// DeleteKeysInput names the user and the access keys to delete.
type DeleteKeysInput struct {
	User         string   `json:"user"`
	AccessKeyIDs []string `json:"access_key_ids"`
}

// DeleteKeysResult lists the keys deleted now and those already gone.
type DeleteKeysResult struct {
	Deleted []string `json:"deleted"`
	Missing []string `json:"missing"`
}

// DeleteAccessKeys deletes in.User's access keys in.AccessKeyIDs. Only Inactive keys are
// deleted: when any named key is Active nothing is deleted and the error (ErrKeyActive,
// non-retryable) says to deactivate it first. A key already gone counts as done (Missing);
// one that belongs to another user is an ErrKeyOwnerMismatch error.
func (a *Activities) DeleteAccessKeys(ctx context.Context, in DeleteKeysInput) (DeleteKeysResult, error) {
	res := DeleteKeysResult{Deleted: []string{}, Missing: []string{}}
	if err := requireUser(in.User); err != nil {
		return res, err
	}
	ids := sortedUnique(in.AccessKeyIDs)
	if len(ids) == 0 {
		return res, invalidInput("awsiam delete_keys needs the ids of the access keys to delete, got none")
	}
	keys, err := a.listKeys(ctx, in.User)
	if err != nil {
		return res, err
	}
	status := map[string]types.StatusType{}
	for _, k := range keys {
		status[aws.ToString(k.AccessKeyId)] = k.Status
	}
	// Check every key before deleting any, so a refused key does not leave half the work done.
	var present []string
	for _, id := range ids {
		st, ok := status[id]
		switch {
		case !ok:
			if err := a.checkKeyOwner(ctx, in.User, id); err != nil {
				return DeleteKeysResult{}, err
			}
			res.Missing = append(res.Missing, id)
		case st == types.StatusTypeActive:
			return DeleteKeysResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("access key %s of iam user %q is Active; expected an Inactive key: deactivate it first (awsiam.deactivate_keys), then delete it", id, in.User),
				ErrKeyActive, nil)
		default:
			present = append(present, id)
		}
	}
	for _, id := range present {
		_, err := a.Client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(in.User), AccessKeyId: aws.String(id)})
		switch {
		case apiCode(err) == "NoSuchEntity":
			res.Missing = append(res.Missing, id) // deleted since it was listed
		case err != nil:
			return DeleteKeysResult{}, classify("DeleteAccessKey", in.User, err)
		default:
			res.Deleted = append(res.Deleted, id)
		}
	}
	return res, nil
}

// DefaultRotationMount is the KV v2 mount RotateKey writes to when none is given.
const DefaultRotationMount = "secret"

// RotateKeyInput names the user and the key to rotate, and where the new key goes.
type RotateKeyInput struct {
	User string `json:"user"`
	// AccessKeyID is the key to replace; empty means the user's only Active key.
	AccessKeyID string `json:"access_key_id"`
	// VaultMount is the KV v2 mount of the new key's secret (default DefaultRotationMount).
	VaultMount string `json:"vault_mount"`
	// VaultPath is the secret's path on the mount (default "aws/iam/<user>").
	VaultPath string `json:"vault_path"`
	// IdempotencyKey names this rotation; a retry with the same key finishes it rather than
	// starting another. Empty: derived from the workflow and activity ids.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// RotateKeyResult names the keys and the Vault secret version that holds the new key. It
// never carries the secret.
type RotateKeyResult struct {
	User           string `json:"user"`
	OldAccessKeyID string `json:"old_access_key_id"`
	NewAccessKeyID string `json:"new_access_key_id"`
	VaultMount     string `json:"vault_mount"`
	VaultPath      string `json:"vault_path"`
	VaultVersion   int    `json:"vault_version"`
	// DeletedSpare is the inactive key removed to make room under the two-keys limit, if any.
	DeletedSpare string `json:"deleted_spare"`
}

// The rotation's progress is kept in a tag on the IAM user, keyed by the idempotency key,
// because IAM is where the key is created: the tag is written before the only step that
// cannot be repeated safely (CreateAccessKey) and after each step that must not be repeated.
// Values (tag values allow letters, digits and _.:/=+-@):
//
//	creating:<old key>:<unix seconds>  about to call CreateAccessKey
//	created:<old key>:<new key>        the key exists; its secret is only in this attempt's memory
//	stored:<new key>:<vault version>   the secret is in Vault; the rest is idempotent
const (
	rotTagPrefix = "firebreak:rotation:"
	rotCreating  = "creating"
	rotCreated   = "created"
	rotStored    = "stored"
)

// orphanSkew is how much earlier than the "creating" mark (our clock) a key's CreateDate
// (AWS's clock) may be and still be taken for the key that attempt created.
const orphanSkew = time.Minute

func rotationTag(key string) string {
	sum := sha256.Sum256([]byte(key))
	return rotTagPrefix + hex.EncodeToString(sum[:12])
}

// RotateKey replaces an access key in AWS's order: create the new key, store its secret in
// the SecretStore (inside this activity: it is never returned, logged or put in an error),
// deactivate the old key, verify the new key is Active and the old Inactive, delete the old.
//
// Under the two-keys-per-user limit, an Inactive second key is deleted first; two Active
// keys stop the rotation with ErrTwoActiveKeys, for a person to decide.
//
// It is idempotent across retries and crashes: its progress is tagged on the user under the
// idempotency key (see rotTagPrefix), and a retry resumes from there. When an attempt
// created a key but did not store its secret (it crashed, or the store failed), that
// secret is lost for good — AWS shows a secret only once — so the retry deletes that orphan
// key and creates another rather than leaving a working key nobody holds, or a third key.
func (a *Activities) RotateKey(ctx context.Context, in RotateKeyInput) (RotateKeyResult, error) {
	if err := requireUser(in.User); err != nil {
		return RotateKeyResult{}, err
	}
	if a.Secrets == nil {
		return RotateKeyResult{}, invalidInput("awsiam rotate_key needs a secret store for the new key (Activities.Secrets), got none")
	}
	res := RotateKeyResult{User: in.User, VaultMount: in.VaultMount, VaultPath: in.VaultPath}
	if res.VaultMount == "" {
		res.VaultMount = DefaultRotationMount
	}
	if res.VaultPath == "" {
		res.VaultPath = "aws/iam/" + in.User
	}
	key := in.IdempotencyKey
	if key == "" {
		info := activity.GetInfo(ctx)
		key = info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID + "/" + info.ActivityID
	}
	tag := rotationTag(key)

	state, err := a.rotationState(ctx, in.User, tag)
	if err != nil {
		return RotateKeyResult{}, err
	}
	keys, err := a.listKeys(ctx, in.User)
	if err != nil {
		return RotateKeyResult{}, err
	}
	parts := strings.Split(state, ":")
	switch parts[0] {
	case rotStored:
		if len(parts) != 4 {
			break
		}
		v, err := strconv.Atoi(parts[3])
		if err != nil {
			break
		}
		res.OldAccessKeyID, res.NewAccessKeyID, res.VaultVersion = parts[1], parts[2], v
		return a.finishRotation(ctx, res, tag)
	case rotCreated:
		// A previous attempt created parts[2] and lost its secret: delete the orphan.
		if len(parts) == 3 {
			if err := a.deleteKey(ctx, in.User, parts[2]); err != nil {
				return RotateKeyResult{}, err
			}
			if in.AccessKeyID == "" {
				in.AccessKeyID = parts[1]
			}
		}
		if keys, err = a.listKeys(ctx, in.User); err != nil {
			return RotateKeyResult{}, err
		}
	case rotCreating:
		// A previous attempt may have crashed after CreateAccessKey and before tagging the
		// new key: a key other than the old one, created after the mark, is that orphan.
		if len(parts) == 3 {
			if since, err := strconv.ParseInt(parts[2], 10, 64); err == nil {
				mark := time.Unix(since, 0).Add(-orphanSkew)
				for _, k := range keys {
					id := aws.ToString(k.AccessKeyId)
					if id != parts[1] && k.CreateDate != nil && !k.CreateDate.Before(mark) {
						if err := a.deleteKey(ctx, in.User, id); err != nil {
							return RotateKeyResult{}, err
						}
					}
				}
				if keys, err = a.listKeys(ctx, in.User); err != nil {
					return RotateKeyResult{}, err
				}
			}
		}
		if in.AccessKeyID == "" && len(parts) >= 2 {
			in.AccessKeyID = parts[1] // the old key the first attempt chose
		}
	}

	old, spare, err := pickRotation(in.User, in.AccessKeyID, keys)
	if err != nil {
		return RotateKeyResult{}, err
	}
	res.OldAccessKeyID = old
	if spare != "" {
		if err := a.deleteKey(ctx, in.User, spare); err != nil {
			return RotateKeyResult{}, err
		}
		res.DeletedSpare = spare
	}

	if err := a.setRotationState(ctx, in.User, tag, fmt.Sprintf("%s:%s:%d", rotCreating, old, a.now().Unix())); err != nil {
		return RotateKeyResult{}, err
	}
	created, err := a.Client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(in.User)})
	if err != nil {
		return RotateKeyResult{}, classify("CreateAccessKey", in.User, err)
	}
	newID := aws.ToString(created.AccessKey.AccessKeyId)
	secret := aws.ToString(created.AccessKey.SecretAccessKey)
	res.NewAccessKeyID = newID
	if err := a.setRotationState(ctx, in.User, tag, rotCreated+":"+old+":"+newID); err != nil {
		return RotateKeyResult{}, err
	}
	version, err := a.Secrets.PutSecret(ctx, res.VaultMount, res.VaultPath, map[string]string{
		"access_key_id":     newID,
		"secret_access_key": secret,
		"user":              in.User,
	})
	if err != nil {
		// The secret is gone with this attempt: remove the key now rather than leave a
		// working key nobody holds (a retry would also do it, but a non-retryable store
		// error means there is no retry). The created: tag lets a retry finish the job.
		_ = a.deleteKey(ctx, in.User, newID)
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) {
			return RotateKeyResult{}, err
		}
		return RotateKeyResult{}, fmt.Errorf("storing the new access key %s of iam user %q at %s/%s failed (will retry with a fresh key): %w", newID, in.User, res.VaultMount, res.VaultPath, err)
	}
	res.VaultVersion = version
	if err := a.setRotationState(ctx, in.User, tag, fmt.Sprintf("%s:%s:%s:%d", rotStored, old, newID, version)); err != nil {
		return RotateKeyResult{}, err
	}
	return a.finishRotation(ctx, res, tag)
}

// pickRotation chooses the key to rotate and the inactive spare to delete first, if any.
func pickRotation(user, want string, keys []types.AccessKeyMetadata) (old, spare string, err error) {
	var active []string
	for _, k := range keys {
		if k.Status == types.StatusTypeActive {
			active = append(active, aws.ToString(k.AccessKeyId))
		}
	}
	if want == "" {
		switch len(active) {
		case 0:
			return "", "", invalidInput("iam user %q has no Active access key to rotate; expected exactly one, or an access_key_id", user)
		case 1:
			want = active[0]
		default:
			return "", "", temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("iam user %q has two Active access keys (%s); rotation needs one free slot. Ask the developer which key is in use, deactivate and delete the other (awsiam.deactivate_keys, awsiam.delete_keys), then rotate again", user, strings.Join(active, ", ")),
				ErrTwoActiveKeys, nil)
		}
	}
	var found *types.AccessKeyMetadata
	for i := range keys {
		if aws.ToString(keys[i].AccessKeyId) == want {
			found = &keys[i]
		}
	}
	if found == nil {
		return "", "", invalidInput("access key %s is not a key of iam user %q; expected one of %v", want, user, keyIDs(keys))
	}
	if len(keys) < 2 {
		return want, "", nil
	}
	for _, k := range keys {
		id := aws.ToString(k.AccessKeyId)
		if id == want {
			continue
		}
		switch {
		case k.Status != types.StatusTypeActive:
			spare = id
		case found.Status == types.StatusTypeActive:
			return "", "", temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("iam user %q has two Active access keys (%s, %s) and AWS allows two per user, so no new key can be created. Ask the developer which key is in use, deactivate and delete the other (awsiam.deactivate_keys, awsiam.delete_keys), then rotate again", user, want, id),
				ErrTwoActiveKeys, nil)
		default:
			return "", "", temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("iam user %q has two access keys: %s (Inactive, to rotate) and %s (Active), and AWS allows two per user; delete %s (awsiam.delete_keys) or rotate %s instead", user, want, id, want, id),
				ErrKeyLimit, nil)
		}
	}
	return want, spare, nil
}

func keyIDs(keys []types.AccessKeyMetadata) []string {
	out := []string{}
	for _, k := range keys {
		out = append(out, aws.ToString(k.AccessKeyId))
	}
	return out
}

// finishRotation deactivates the old key, verifies, and deletes the old key; each step is
// idempotent, so it is safe to run again after a crash.
func (a *Activities) finishRotation(ctx context.Context, res RotateKeyResult, tag string) (RotateKeyResult, error) {
	user := res.User
	_, err := a.Client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(res.OldAccessKeyID), Status: types.StatusTypeInactive})
	if err != nil && apiCode(err) != "NoSuchEntity" { // gone: deleted by an earlier attempt
		return RotateKeyResult{}, classify("UpdateAccessKey", user, err)
	}
	keys, err := a.listKeys(ctx, user)
	if err != nil {
		return RotateKeyResult{}, err
	}
	status := map[string]types.StatusType{}
	for _, k := range keys {
		status[aws.ToString(k.AccessKeyId)] = k.Status
	}
	if st, ok := status[res.NewAccessKeyID]; !ok || st != types.StatusTypeActive {
		found := "missing"
		if ok {
			found = string(st)
		}
		return RotateKeyResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("rotation of iam user %q: new access key %s is %s; expected Active. Someone changed it during the rotation; check the user's keys before rotating again", user, res.NewAccessKeyID, found),
			ErrRotationVerify, nil)
	}
	if st, ok := status[res.OldAccessKeyID]; ok && st == types.StatusTypeActive {
		return RotateKeyResult{}, fmt.Errorf("rotation of iam user %q: old access key %s still reads Active after deactivation; expected Inactive (will retry)", user, res.OldAccessKeyID)
	}
	if err := a.deleteKey(ctx, user, res.OldAccessKeyID); err != nil {
		return RotateKeyResult{}, err
	}
	return res, nil
}

// deleteKey deletes user's key id; already gone counts as done.
func (a *Activities) deleteKey(ctx context.Context, user, id string) error {
	_, err := a.Client.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id)})
	if err != nil && apiCode(err) != "NoSuchEntity" {
		return classify("DeleteAccessKey", user, err)
	}
	return nil
}

// rotationState returns the value of user's tag tag, or "".
func (a *Activities) rotationState(ctx context.Context, user, tag string) (string, error) {
	u, err := a.Client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(user)})
	if err != nil {
		return "", classify("GetUser", user, err)
	}
	for _, t := range u.User.Tags {
		if strings.EqualFold(aws.ToString(t.Key), tag) {
			return aws.ToString(t.Value), nil
		}
	}
	return "", nil
}

func (a *Activities) setRotationState(ctx context.Context, user, tag, value string) error {
	_, err := a.Client.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(user), Tags: []types.Tag{{Key: aws.String(tag), Value: aws.String(value)}}})
	return classify("TagUser", user, err)
}

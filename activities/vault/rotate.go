package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
)

// Custom metadata keys the rotation marker is kept under on each rotated secret.
const (
	// RotationMarkerKey holds "<idempotency key>@<version rotated from>".
	RotationMarkerKey = "firebreak_rotation"
	// RotationDigestKey holds a SHA-256 fingerprint (first 16 bytes, hex) of the new values,
	// so a retry can tell the version it wrote from one somebody else wrote.
	RotationDigestKey = "firebreak_rotation_sha256"
)

// RotateSecretsInput lists the secrets to rotate.
type RotateSecretsInput struct {
	// Secrets are rotated from whatever version is current when the activity runs; their
	// Version (as Inventory saw it) is informational.
	Secrets []SecretRef `json:"secrets"`
	// IdempotencyKey identifies this rotation across retries and re-runs; "" means the
	// workflow id and activity id of the calling activity.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// RotateSecretsResult lists what was rotated, in input order.
type RotateSecretsResult struct {
	Rotated []Rotation `json:"rotated"`
}

// Rotation is one rotated secret: PreviousVersion is kept by KV v2 for rollback.
type Rotation struct {
	Mount           string `json:"mount"`
	Path            string `json:"path"`
	PreviousVersion int    `json:"previous_version"`
	NewVersion      int    `json:"new_version"`
}

// RotateSecrets gives every field of each secret a new random value (from NewSecret) and
// writes it as a new KV v2 version with check-and-set on the current version, so the previous
// version stays readable for rollback. Before writing it marks the rotation in the secret's
// custom_metadata; a retry that finds its own marker and its own new version reports the
// existing rotation instead of rotating twice. A check-and-set conflict (somebody else wrote
// the secret meanwhile) is a retryable error. New values are never returned or logged.
func (a *Activities) RotateSecrets(ctx context.Context, in RotateSecretsInput) (RotateSecretsResult, error) {
	key := in.IdempotencyKey
	if key == "" {
		info := activity.GetInfo(ctx)
		key = info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID + "/" + info.ActivityID
	}
	if len(key) > 256 {
		sum := sha256.Sum256([]byte(key))
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	res := RotateSecretsResult{Rotated: []Rotation{}}
	for _, ref := range in.Secrets {
		if err := validSegment("secret mount", ref.Mount); err != nil {
			return RotateSecretsResult{}, err
		}
		if err := validPath("secret path", ref.Path); err != nil {
			return RotateSecretsResult{}, err
		}
		activity.RecordHeartbeat(ctx, ref.Mount+"/"+ref.Path)
		rot, err := a.rotateOne(ctx, ref, key)
		if err != nil {
			return RotateSecretsResult{}, err
		}
		res.Rotated = append(res.Rotated, rot)
	}
	return res, nil
}

func (a *Activities) rotateOne(ctx context.Context, ref SecretRef, key string) (Rotation, error) {
	name := ref.Mount + "/" + ref.Path
	metaPath := ref.Mount + "/metadata/" + ref.Path
	dataPath := ref.Mount + "/data/" + ref.Path
	log := activity.GetLogger(ctx)

	md, err := a.Client.ReadWithContext(ctx, metaPath)
	if err != nil {
		return Rotation{}, classify(err, "read secret metadata", metaPath)
	}
	if md == nil || md.Data == nil {
		return Rotation{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("vault: no KV v2 secret at %s (%s answered 404); expected a secret from the inventory step", name, metaPath),
			ErrSecretNotFound, nil)
	}
	current := dataInt(md.Data, "current_version")
	custom := map[string]any{}
	for k, v := range dataMap(md.Data, "custom_metadata") {
		custom[k] = v
	}

	// A marker of ours means an earlier attempt got at least as far as marking.
	if from, ok := parseMarker(custom[RotationMarkerKey], key); ok && current >= from+1 {
		mine, err := a.versionDigestMatches(ctx, dataPath, from+1, custom[RotationDigestKey])
		if err != nil {
			return Rotation{}, err
		}
		if mine {
			log.Info("vault secret already rotated by an earlier attempt", "secret", name, "previous_version", from, "new_version", from+1)
			return Rotation{Mount: ref.Mount, Path: ref.Path, PreviousVersion: from, NewVersion: from + 1}, nil
		}
		// Somebody else wrote from+1: rotate the version that is current now.
	}

	cur, err := a.Client.ReadWithContext(ctx, dataPath)
	if err != nil {
		return Rotation{}, classify(err, "read secret", dataPath)
	}
	var fields []string
	if cur != nil {
		for f := range dataMap(cur.Data, "data") {
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		return Rotation{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("vault: secret %s version %d has no readable fields (deleted or empty); expected a live secret to rotate", name, current),
			ErrSecretNotFound, nil)
	}
	if vm := dataMap(cur.Data, "metadata"); vm != nil && dataInt(vm, "version") != current {
		return Rotation{}, fmt.Errorf("vault: secret %s changed while rotating: metadata said version %d is current, data read returned version %d; will retry", name, current, dataInt(vm, "version"))
	}
	sort.Strings(fields)
	values := make(map[string]string, len(fields))
	for _, f := range fields {
		v, err := a.newSecret(name, f)
		if err != nil {
			return Rotation{}, fmt.Errorf("vault: generating a new value for field %q of %s: %w", f, name, err)
		}
		values[f] = v
	}

	custom[RotationMarkerKey] = key + "@" + strconv.Itoa(current)
	custom[RotationDigestKey] = valuesDigest(values)
	if _, err := a.Client.WriteWithContext(ctx, metaPath, map[string]any{"custom_metadata": custom}); err != nil {
		return Rotation{}, classify(err, "mark rotation in secret metadata", metaPath)
	}

	data := make(map[string]any, len(values))
	for k, v := range values {
		data[k] = v
	}
	s, err := a.Client.WriteWithContext(ctx, dataPath, map[string]any{
		"data":    data,
		"options": map[string]any{"cas": current},
	})
	if err != nil {
		if code, msg, ok := vaultStatusError(err); ok && code == 400 && strings.Contains(msg, "check-and-set") {
			return Rotation{}, fmt.Errorf("vault: secret %s was written by somebody else while rotating (check-and-set on version %d failed); will retry against the new current version", name, current)
		}
		return Rotation{}, classify(err, "write rotated secret", dataPath)
	}
	newVersion := current + 1
	if s != nil {
		if n := dataInt(s.Data, "version"); n > 0 {
			newVersion = n
		}
	}
	log.Info("vault secret rotated", "secret", name, "previous_version", current, "new_version", newVersion)
	return Rotation{Mount: ref.Mount, Path: ref.Path, PreviousVersion: current, NewVersion: newVersion}, nil
}

// parseMarker returns the version a marker of key says it rotated from.
func parseMarker(raw any, key string) (int, bool) {
	s, _ := raw.(string)
	rest, ok := strings.CutPrefix(s, key+"@")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0
}

// versionDigestMatches reports whether version n of the secret holds the values whose
// fingerprint is want.
func (a *Activities) versionDigestMatches(ctx context.Context, dataPath string, n int, want any) (bool, error) {
	w, _ := want.(string)
	if w == "" {
		return false, nil
	}
	s, err := a.Client.ReadWithDataWithContext(ctx, dataPath, map[string][]string{"version": {strconv.Itoa(n)}})
	if err != nil {
		return false, classify(err, "read secret version "+strconv.Itoa(n), dataPath)
	}
	if s == nil {
		return false, nil
	}
	values := map[string]string{}
	for k, v := range dataMap(s.Data, "data") {
		str, ok := v.(string)
		if !ok {
			return false, nil
		}
		values[k] = str
	}
	return valuesDigest(values) == w, nil
}

// valuesDigest fingerprints high-entropy generated values; it cannot be reversed into them.
func valuesDigest(values map[string]string) string {
	b, _ := json.Marshal(values) // map keys are sorted
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

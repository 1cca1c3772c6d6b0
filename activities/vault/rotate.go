package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

// RotateSecretsResult says, secret by secret, what happened, each secret in exactly one list,
// in input order. Only Rotated counts as rotated: there the credential was changed where it
// is checked (or, for generate, the secret is the credential) and the KV copy updated.
type RotateSecretsResult struct {
	Rotated []Rotation `json:"rotated"`
	// PendingManual are secrets marked manual or not marked at all: nothing was changed, and
	// a person (the owner) has to rotate them.
	PendingManual []ManualRotation `json:"pending_manual"`
	// Failed are secrets whose rotation could not be done, each with why; the others were
	// still rotated.
	Failed []RotationFailure `json:"failed"`
}

// Rotation is one rotated secret: PreviousVersion is kept by KV v2 for rollback.
type Rotation struct {
	Mount           string `json:"mount"`
	Path            string `json:"path"`
	PreviousVersion int    `json:"previous_version"`
	NewVersion      int    `json:"new_version"`
	// Strategy is how it was rotated, as its metadata says (e.g. database:database/payments).
	Strategy string `json:"strategy,omitempty"`
	// Fields are the fields given new values by generate (its named fields) and database
	// (password); every other field was kept as it was. A service names its own fields.
	Fields []string `json:"fields,omitempty"`
	// Upstream is where the credential was changed, when not in Vault KV itself (e.g. the
	// Vault call database/rotate-role/payments, or the service payments-admin).
	Upstream string `json:"upstream,omitempty"`
	// Note says anything a consumer must know (a root credential now known only to Vault).
	Note string `json:"note,omitempty"`
}

// ManualRotation is a secret firebreak did not change: a person must rotate it.
type ManualRotation struct {
	Mount   string `json:"mount"`
	Path    string `json:"path"`
	Version int    `json:"version"`
	// Owner is the secret's custom_metadata owner (a directory subject or Slack group); ""
	// when it names none, and the playbook's assignee takes it.
	Owner string `json:"owner"`
	// Marked is true for firebreak-rotate: manual, false for a secret with no firebreak-rotate.
	Marked       bool   `json:"marked"`
	Instructions string `json:"instructions"`
}

// RotationFailure is a secret that could not be rotated and why. Nothing of it was changed,
// except that an upstream rotation that succeeded before a later call failed is said so.
type RotationFailure struct {
	Mount    string `json:"mount"`
	Path     string `json:"path"`
	Strategy string `json:"strategy,omitempty"`
	// Kind is the error type: UnknownStrategy, NoSuchField, NoSuchRole, UnknownService,
	// ServiceFailed, SecretNotFound, PermissionDenied, InvalidRequest, or Transient when
	// retries ran out.
	Kind  string `json:"kind"`
	Error string `json:"error"`
}

// SecretServices asks configured HTTP services to rotate a credential (httpreq.Rotator): the
// service changes it where it is checked and answers the new values, which go straight into
// Vault.
type SecretServices interface {
	// HasService reports whether a service of that name is configured.
	HasService(name string) bool
	// RotateSecret posts body to path on the service and returns the new values it answers.
	// Errors never carry the values; a 4xx answer is a non-retryable error.
	RotateSecret(ctx context.Context, service, path string, body map[string]any, idempotencyKey string) (map[string]any, error)
}

// RotateSecrets rotates each secret as its KV v2 custom_metadata says (firebreak-rotate; see
// MetaRotate): generate gives the named fields new random values; database has Vault's
// database engine rotate the static role (or root credential) in the database and copies the
// new credential into the secret; service has a configured service rotate it and stores what
// it answers. Every other field is kept verbatim, whatever its JSON type. Manual and unmarked
// secrets are not touched: they come back in PendingManual with their owner. A secret that
// cannot be rotated as marked (unknown strategy, missing field, role or service, a service
// that refuses) is in Failed with why, and the others are still rotated.
//
// The new version is written with check-and-set on the current one, so the previous version
// stays for rollback; before writing, the rotation is marked in custom_metadata, so a retry
// that finds its own marker and its own new version reports it instead of rotating twice.
// New values are read and written inside the activity only: never returned or logged.
// Transient failures (Vault or a service unreachable, a check-and-set race) fail the attempt
// for Temporal to retry; on the last attempt they are reported in Failed instead.
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
	for _, ref := range in.Secrets {
		if err := validSegment("secret mount", ref.Mount); err != nil {
			return RotateSecretsResult{}, err
		}
		if err := validPath("secret path", ref.Path); err != nil {
			return RotateSecretsResult{}, err
		}
	}
	res := RotateSecretsResult{Rotated: []Rotation{}, PendingManual: []ManualRotation{}, Failed: []RotationFailure{}}
	last := lastAttempt(ctx)
	var transient []string
	for _, ref := range in.Secrets {
		activity.RecordHeartbeat(ctx, ref.Mount+"/"+ref.Path)
		out, err := a.rotateOne(ctx, ref, key)
		switch {
		case err == nil && out.rotated != nil:
			res.Rotated = append(res.Rotated, *out.rotated)
		case err == nil:
			res.PendingManual = append(res.PendingManual, *out.manual)
		default:
			kind, permanent := failureKind(err)
			if !permanent && !last {
				transient = append(transient, err.Error())
				continue
			}
			res.Failed = append(res.Failed, RotationFailure{Mount: ref.Mount, Path: ref.Path, Strategy: out.strategy, Kind: kind, Error: errMessage(err)})
		}
	}
	if len(transient) > 0 {
		// Rotated secrets are marked: the retry reports them without rotating them again.
		return RotateSecretsResult{}, fmt.Errorf("vault: %d secret(s) could not be rotated this attempt (will retry): %s", len(transient), strings.Join(transient, "; "))
	}
	return res, nil
}

// lastAttempt reports whether Temporal will not retry this activity after this attempt.
func lastAttempt(ctx context.Context) bool {
	if !activity.IsActivity(ctx) {
		return true
	}
	info := activity.GetInfo(ctx)
	return info.RetryPolicy != nil && info.RetryPolicy.MaximumAttempts > 0 && info.Attempt >= info.RetryPolicy.MaximumAttempts
}

// failureKind classifies a per-secret error: its type, and whether retrying cannot help.
func failureKind(err error) (string, bool) {
	var se *StrategyError
	if errors.As(err, &se) {
		return se.Type, true
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.NonRetryable() {
		return appErr.Type(), true
	}
	return "Transient", false
}

func errMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// rotation is what rotateOne did: exactly one of rotated and manual on success.
type rotation struct {
	rotated  *Rotation
	manual   *ManualRotation
	strategy string
}

// current is a secret as it is now: its metadata, strategy, version and values.
type current struct {
	name, metaPath, dataPath string
	strategy                 Strategy
	version                  int
	custom                   map[string]any
	data                     map[string]any
}

// readCurrent reads a secret's metadata and strategy, and its current values unless it is
// manual. Errors are per secret (a *StrategyError, or classified Vault errors).
func (a *Activities) readCurrent(ctx context.Context, ref SecretRef) (current, error) {
	c := current{name: ref.Mount + "/" + ref.Path, metaPath: ref.Mount + "/metadata/" + ref.Path, dataPath: ref.Mount + "/data/" + ref.Path}
	md, err := a.Client.ReadWithContext(ctx, c.metaPath)
	if err != nil {
		return c, classify(err, "read secret metadata", c.metaPath)
	}
	if md == nil || md.Data == nil {
		return c, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("vault: no KV v2 secret at %s (%s answered 404); expected a secret from the inventory step", c.name, c.metaPath),
			ErrSecretNotFound, nil)
	}
	c.version = dataInt(md.Data, "current_version")
	c.custom = map[string]any{}
	for k, v := range dataMap(md.Data, "custom_metadata") {
		c.custom[k] = v
	}
	c.strategy, err = ParseStrategy(c.name, c.custom)
	if err != nil {
		return c, err
	}
	if !c.strategy.Automated() {
		return c, nil
	}
	cur, err := a.Client.ReadWithContext(ctx, c.dataPath)
	if err != nil {
		return c, classify(err, "read secret", c.dataPath)
	}
	if cur != nil {
		c.data = dataMap(cur.Data, "data")
	}
	if len(c.data) == 0 {
		return c, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("vault: secret %s version %d has no readable fields (deleted or empty); expected a live secret to rotate", c.name, c.version),
			ErrSecretNotFound, nil)
	}
	if vm := dataMap(cur.Data, "metadata"); vm != nil && dataInt(vm, "version") != c.version {
		return c, fmt.Errorf("vault: secret %s changed while rotating: metadata said version %d is current, data read returned version %d; will retry", c.name, c.version, dataInt(vm, "version"))
	}
	return c, nil
}

// check finds what would make rotating c fail before anything is changed: a generate field
// the secret lacks, a database role or connection Vault lacks, a service not configured.
func (a *Activities) check(ctx context.Context, c current) error {
	s := c.strategy
	switch s.Kind {
	case StrategyGenerate:
		var missing []string
		for _, f := range s.Fields {
			if _, ok := c.data[f]; !ok {
				missing = append(missing, f)
			}
		}
		if len(missing) > 0 {
			return strategyErr(ErrNoSuchField, "secret %s: %s %q names field(s) %s that version %d does not have; its fields are %s",
				c.name, MetaRotate, s.String(), strings.Join(missing, ", "), c.version, strings.Join(fieldNames(c.data), ", "))
		}
	case StrategyDatabase, StrategyDatabaseRoot:
		what, p := "static role", s.Mount+"/static-roles/"+s.Role
		if s.Kind == StrategyDatabaseRoot {
			what, p = "connection", s.Mount+"/config/"+s.Role
		}
		sec, err := a.Client.ReadWithContext(ctx, p)
		if code, _, ok := vaultStatusError(err); ok && (code == 404 || code == 400) {
			sec, err = nil, nil // no such mount answers 404 with an error
		}
		if err != nil {
			return classify(err, "read database "+what, p)
		}
		if sec == nil || sec.Data == nil {
			return strategyErr(ErrNoSuchRole, "secret %s: %s %q: Vault has no database %s %q on mount %s (%s answered 404)", c.name, MetaRotate, s.String(), what, s.Role, s.Mount, p)
		}
	case StrategyService:
		if a.Services == nil || !a.Services.HasService(s.Service) {
			return strategyErr(ErrUnknownService, "secret %s: %s %q: no http service %q is configured for this worker (http_services)", c.name, MetaRotate, s.String(), s.Service)
		}
	}
	return nil
}

func (a *Activities) rotateOne(ctx context.Context, ref SecretRef, key string) (rotation, error) {
	log := activity.GetLogger(ctx)
	c, err := a.readCurrent(ctx, ref)
	out := rotation{strategy: c.strategy.String()}
	if err != nil {
		return out, err
	}
	if !c.strategy.Automated() {
		m := manualRotation(ref, c)
		out.manual = &m
		return out, nil
	}
	done := func(prev, next int) rotation {
		r := Rotation{Mount: ref.Mount, Path: ref.Path, PreviousVersion: prev, NewVersion: next, Strategy: c.strategy.String()}
		switch c.strategy.Kind {
		case StrategyGenerate:
			r.Fields = slices.Clone(c.strategy.Fields)
		case StrategyDatabase:
			r.Upstream, r.Fields = c.strategy.Mount+"/rotate-role/"+c.strategy.Role, []string{"password"}
		case StrategyDatabaseRoot:
			r.Upstream = c.strategy.Mount + "/rotate-root/" + c.strategy.Role
			r.Note = "the root credential is now known only to Vault; the copy's password field was removed"
		case StrategyService:
			r.Upstream = "service " + c.strategy.Service
		}
		out.rotated = &r
		return out
	}

	// A marker of ours means an earlier attempt got at least as far as marking.
	if from, ok := parseMarker(c.custom[RotationMarkerKey], key); ok && c.version >= from+1 {
		mine, err := a.versionDigestMatches(ctx, c.dataPath, from+1, c.custom[RotationDigestKey])
		if err != nil {
			return out, err
		}
		if mine {
			log.Info("vault secret already rotated by an earlier attempt", "secret", c.name, "previous_version", from, "new_version", from+1)
			return done(from, from+1), nil
		}
		// Somebody else wrote from+1: rotate the version that is current now.
	}
	if err := a.check(ctx, c); err != nil {
		return out, err
	}
	values, err := a.newValues(ctx, c, ref, key)
	if err != nil {
		return out, err
	}
	c.custom[RotationMarkerKey] = key + "@" + strconv.Itoa(c.version)
	c.custom[RotationDigestKey] = valuesDigest(values)
	if _, err := a.Client.WriteWithContext(ctx, c.metaPath, map[string]any{"custom_metadata": c.custom}); err != nil {
		return out, classify(err, "mark rotation in secret metadata", c.metaPath)
	}
	s, err := a.Client.WriteWithContext(ctx, c.dataPath, map[string]any{
		"data":    values,
		"options": map[string]any{"cas": c.version},
	})
	if err != nil {
		if code, msg, ok := vaultStatusError(err); ok && code == 400 && strings.Contains(msg, "check-and-set") {
			return out, fmt.Errorf("vault: secret %s was written by somebody else while rotating (check-and-set on version %d failed); will retry against the new current version", c.name, c.version)
		}
		return out, classify(err, "write rotated secret", c.dataPath)
	}
	newVersion := c.version + 1
	if s != nil {
		if n := dataInt(s.Data, "version"); n > 0 {
			newVersion = n
		}
	}
	log.Info("vault secret rotated", "secret", c.name, "strategy", c.strategy.String(), "previous_version", c.version, "new_version", newVersion)
	return done(c.version, newVersion), nil
}

// newValues rotates the credential upstream where the strategy says so and returns the
// secret's next values: the current ones, verbatim, with the rotated fields replaced.
func (a *Activities) newValues(ctx context.Context, c current, ref SecretRef, key string) (map[string]any, error) {
	values := make(map[string]any, len(c.data))
	for k, v := range c.data {
		values[k] = v
	}
	s := c.strategy
	switch s.Kind {
	case StrategyGenerate:
		for _, f := range s.Fields {
			v, err := a.newSecret(c.name, f, s.Format)
			if err != nil {
				return nil, fmt.Errorf("vault: generating a new value for field %q of %s: %w", f, c.name, err)
			}
			values[f] = v
		}
	case StrategyDatabase:
		p := s.Mount + "/rotate-role/" + s.Role
		if _, err := a.Client.WriteWithContext(ctx, p, map[string]any{}); err != nil {
			if code, msg, ok := vaultStatusError(err); ok && code == 400 && strings.Contains(msg, "no static role") {
				return nil, strategyErr(ErrNoSuchRole, "secret %s: %s %q: Vault has no database static role %q on mount %s (%s answered %q)", c.name, MetaRotate, s.String(), s.Role, s.Mount, p, msg)
			}
			return nil, classify(err, "rotate database static role", p)
		}
		cp := s.Mount + "/static-creds/" + s.Role
		creds, err := a.Client.ReadWithContext(ctx, cp)
		if err != nil {
			return nil, classify(err, "read the rotated database credential", cp)
		}
		if creds == nil || dataString(creds.Data, "password") == "" {
			return nil, fmt.Errorf("vault: %s answered no password after %s; expected the static role's new credential (will retry)", cp, p)
		}
		values["password"] = dataString(creds.Data, "password")
		if _, ok := values["username"]; ok && dataString(creds.Data, "username") != "" {
			values["username"] = dataString(creds.Data, "username")
		}
	case StrategyDatabaseRoot:
		p := s.Mount + "/rotate-root/" + s.Role
		if _, err := a.Client.WriteWithContext(ctx, p, map[string]any{}); err != nil {
			return nil, classify(err, "rotate database root credential", p)
		}
		// Vault keeps the new root password to itself: the copy must not pretend to hold it.
		delete(values, "password")
	case StrategyService:
		body := map[string]any{"mount": ref.Mount, "path": ref.Path, "version": c.version, "idempotency_key": key}
		answered, err := a.Services.RotateSecret(ctx, s.Service, s.ServicePath, body, key)
		if err != nil {
			var appErr *temporal.ApplicationError
			if errors.As(err, &appErr) && appErr.NonRetryable() {
				return nil, strategyErr(ErrServiceFailed, "secret %s: %s %q: the service refused to rotate it: %s", c.name, MetaRotate, s.String(), appErr.Message())
			}
			return nil, fmt.Errorf("vault: secret %s: asking service %s to rotate it: %w", c.name, s.Service, err)
		}
		if len(answered) == 0 {
			return nil, strategyErr(ErrServiceFailed, "secret %s: %s %q: the service answered no new values; expected {\"data\": {FIELD: VALUE, …}}", c.name, MetaRotate, s.String())
		}
		for k, v := range answered {
			values[k] = v
		}
	}
	return values, nil
}

func manualRotation(ref SecretRef, c current) ManualRotation {
	m := ManualRotation{Mount: ref.Mount, Path: ref.Path, Version: c.version, Owner: c.strategy.Owner, Marked: c.strategy.Kind == StrategyManual}
	why := "it is marked " + MetaRotate + ": manual"
	if !m.Marked {
		why = "it has no " + MetaRotate + " metadata, so firebreak changed nothing"
	}
	m.Instructions = fmt.Sprintf("Rotate %s where it is checked (%s): issue a new credential, revoke the one in version %d, write the new one to Vault as a new version, and confirm here.", c.name, why, c.version)
	if !m.Marked {
		m.Instructions += " Then set its custom_metadata " + MetaRotate + " (generate:FIELD, database:MOUNT/ROLE or service:NAME/PATH) so firebreak rotates it next time."
	}
	return m
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
	return valuesDigest(dataMap(s.Data, "data")) == w, nil
}

// valuesDigest fingerprints a version's values, which include high-entropy new ones; it
// cannot be reversed into them. Numbers are compared as JSON writes them, so a value read
// back as a json.Number fingerprints as the float64 it was written from.
func valuesDigest(values map[string]any) string {
	b, _ := json.Marshal(values) // map keys are sorted
	var norm any
	_ = json.Unmarshal(b, &norm)
	b, _ = json.Marshal(norm)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func fieldNames(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package workflows

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/activities/slack"
	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/playbooks"
)

func plan(t *testing.T, name string) playbooks.Plan {
	t.Helper()
	lib, err := playbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := lib.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return *p
}

// fakes are in-memory activity implementations registered under the real activity names, so
// the workflow logic is tested on its own (layer 1).
type fakes struct {
	mu        sync.Mutex
	calls     []string
	failOn    map[string]error
	verifyBad bool
	noSecrets bool
	// vaultStatus and iamStatus, when set, are the inventories' answers (absent, unavailable).
	vaultStatus, iamStatus string
	// identities records the directory entries the inventories were handed.
	identities []string
	// manual makes every secret one a person must rotate (owner dave).
	manual bool
}

func (f *fakes) record(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	return f.failOn[name]
}

func (f *fakes) register(env *testsuite.TestWorkflowEnvironment) {
	reg := func(name string, fn any) {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	reg("vault.Inventory", func(ctx context.Context, in vault.InventoryInput) (vault.InventoryResult, error) {
		if err := f.record("vault.Inventory"); err != nil {
			return vault.InventoryResult{}, err
		}
		if in.Identity != nil && in.Identity.Vault != nil && in.Identity.Vault.Alias != nil {
			f.mu.Lock()
			f.identities = append(f.identities, "vault alias "+in.Identity.Vault.Alias.Mount+"/"+in.Identity.Vault.Alias.Name)
			f.mu.Unlock()
		}
		if f.vaultStatus != "" {
			return vault.InventoryResult{Subject: in.Subject, Status: f.vaultStatus, Detail: "not present in Vault: no identity entity named " + in.Subject}, nil
		}
		res := vault.InventoryResult{Present: true, Status: vault.StatusFound, EntityID: "ent-1", EntityName: in.Subject, Accessors: []string{"acc-1", "acc-2"}}
		if !f.noSecrets {
			res.ReadableSecrets = []vault.SecretRef{{Mount: "secret", Path: "shared/db", Version: 3}}
		}
		return res, nil
	})
	// The first cut's reads (compromised-dev-key): answered as the inventories are.
	reg("vault.ReadEntity", func(ctx context.Context, in vault.ReadEntityInput) (vault.ReadEntityResult, error) {
		if err := f.record("vault.ReadEntity"); err != nil {
			return vault.ReadEntityResult{}, err
		}
		if in.Identity != nil && in.Identity.Vault != nil && in.Identity.Vault.Alias != nil {
			f.mu.Lock()
			f.identities = append(f.identities, "vault alias "+in.Identity.Vault.Alias.Mount+"/"+in.Identity.Vault.Alias.Name)
			f.mu.Unlock()
		}
		if f.vaultStatus != "" {
			return vault.ReadEntityResult{Subject: in.Subject, Status: f.vaultStatus, Detail: "not present in Vault: no identity entity named " + in.Subject}, nil
		}
		return vault.ReadEntityResult{Subject: in.Subject, Present: true, Status: vault.StatusFound, EntityID: "ent-1", EntityName: in.Subject}, nil
	})
	reg("vault.ReadableSecrets", func(ctx context.Context, in vault.InventoryInput) (vault.InventoryResult, error) {
		if err := f.record("vault.ReadableSecrets"); err != nil {
			return vault.InventoryResult{}, err
		}
		if f.vaultStatus != "" {
			return vault.InventoryResult{Subject: in.Subject, Status: f.vaultStatus}, nil
		}
		return vault.InventoryResult{Present: true, Status: vault.StatusFound, EntityID: "ent-1", EntityName: in.Subject}, nil
	})
	reg("vault.CaptureNextLogin", func(ctx context.Context, in vault.InventoryInput) (vault.NextLoginResult, error) {
		if err := f.record("vault.CaptureNextLogin"); err != nil {
			return vault.NextLoginResult{}, err
		}
		if f.vaultStatus != "" {
			return vault.NextLoginResult{Subject: in.Subject, Status: f.vaultStatus}, nil
		}
		return vault.NextLoginResult{Present: true, Status: vault.StatusFound, EntityID: "ent-1", EntityName: in.Subject}, nil
	})
	reg("awsiam.ListKeys", func(ctx context.Context, in awsiam.ListKeysInput) (awsiam.ListKeysResult, error) {
		if in.Identity != nil && in.Identity.AWS != nil {
			f.mu.Lock()
			f.identities = append(f.identities, fmt.Sprintf("aws %+v", *in.Identity.AWS))
			f.mu.Unlock()
		}
		if f.iamStatus != "" {
			return awsiam.ListKeysResult{Subject: in.User, Status: f.iamStatus, Detail: "not present in IAM: no IAM user " + in.User}, f.record("awsiam.ListKeys")
		}
		return awsiam.ListKeysResult{Present: true, Status: awsiam.StatusFound, UserName: in.User, AccessKeyIDs: []string{"AKFB1"}}, f.record("awsiam.ListKeys")
	})
	reg("awsiam.Inventory", func(ctx context.Context, in awsiam.InventoryInput) (awsiam.InventoryResult, error) {
		if in.Identity != nil && in.Identity.AWS != nil {
			f.mu.Lock()
			f.identities = append(f.identities, fmt.Sprintf("aws %+v", *in.Identity.AWS))
			f.mu.Unlock()
		}
		if f.iamStatus != "" {
			return awsiam.InventoryResult{Subject: in.User, Status: f.iamStatus, Detail: "not present in IAM: no IAM user " + in.User}, f.record("awsiam.Inventory")
		}
		return awsiam.InventoryResult{Present: true, Status: awsiam.StatusFound, UserName: in.User, AccessKeyIDs: []string{"AKFB1"}}, f.record("awsiam.Inventory")
	})
	reg("evidence.Snapshot", func(ctx context.Context, in evidence.SnapshotInput) (evidence.SnapshotResult, error) {
		if in.IdempotencyKey == "" || in.Data["vault"] == nil {
			return evidence.SnapshotResult{}, errors.New("snapshot without key or data")
		}
		return evidence.SnapshotResult{Ref: "evidence:1", SHA256: "abc", Seq: 1}, f.record("evidence.Snapshot")
	})
	reg("vault.RevokeTokens", func(ctx context.Context, in vault.RevokeTokensInput) (vault.RevokeTokensResult, error) {
		return vault.RevokeTokensResult{Revoked: in.Accessors}, f.record("vault.RevokeTokens")
	})
	reg("vault.DisableEntity", func(ctx context.Context, in vault.EntityInput) (vault.EntityResult, error) {
		return vault.EntityResult{EntityID: in.EntityID, Disabled: true}, f.record("vault.DisableEntity")
	})
	reg("vault.PlanRotation", func(ctx context.Context, in vault.PlanRotationInput) (vault.PlanRotationResult, error) {
		var out vault.PlanRotationResult
		for _, s := range in.Secrets {
			if f.manual {
				out.Manual = append(out.Manual, vault.ManualRotation{Mount: s.Mount, Path: s.Path, Version: s.Version, Owner: "dave", Marked: true, Instructions: "rotate it"})
				continue
			}
			out.Rotatable = append(out.Rotatable, vault.PlannedRotation{Mount: s.Mount, Path: s.Path, Version: s.Version, Strategy: "generate:password"})
		}
		return out, f.record("vault.PlanRotation")
	})
	reg("vault.RotateSecrets", func(ctx context.Context, in vault.RotateSecretsInput) (vault.RotateSecretsResult, error) {
		var out vault.RotateSecretsResult
		for _, s := range in.Secrets {
			out.Rotated = append(out.Rotated, vault.Rotation{Mount: s.Mount, Path: s.Path, PreviousVersion: s.Version, NewVersion: s.Version + 1})
		}
		return out, f.record("vault.RotateSecrets")
	})
	reg("vault.VerifyRotated", func(ctx context.Context, in vault.VerifyRotatedInput) (vault.VerifyResult, error) {
		return vault.VerifyResult{Passed: true, Checks: []vault.Check{}}, f.record("vault.VerifyRotated")
	})
	reg("vault.VerifyRevoked", func(ctx context.Context, in vault.VerifyRevokedInput) (vault.VerifyResult, error) {
		if f.verifyBad {
			return vault.VerifyResult{Passed: false, Checks: []vault.Check{{Name: "token acc-1 fails lookup", Passed: false, Detail: "still valid"}}}, f.record("vault.VerifyRevoked")
		}
		return vault.VerifyResult{Passed: true, Checks: []vault.Check{{Name: "token acc-1 fails lookup", Passed: true}}}, f.record("vault.VerifyRevoked")
	})
	reg("awsiam.DeactivateKeys", func(ctx context.Context, in awsiam.DeactivateKeysInput) (awsiam.DeactivateKeysResult, error) {
		return awsiam.DeactivateKeysResult{Deactivated: in.AccessKeyIDs}, f.record("awsiam.DeactivateKeys")
	})
	reg("awsiam.RevokeSessions", func(ctx context.Context, in awsiam.RevokeSessionsInput) (awsiam.RevokeSessionsResult, error) {
		return awsiam.RevokeSessionsResult{PolicyName: "firebreak-revoke-older-sessions", NotBefore: "2026-11-23T00:00:00Z"}, f.record("awsiam.RevokeSessions")
	})
	reg("awsiam.VerifyContained", func(ctx context.Context, in awsiam.VerifyContainedInput) (awsiam.VerifyResult, error) {
		if f.iamStatus != "" {
			return awsiam.VerifyResult{Passed: true, Checks: []awsiam.Check{{Name: "not present in IAM", Passed: true}}}, f.record("awsiam.VerifyContained")
		}
		if in.PolicyName == "" {
			return awsiam.VerifyResult{}, errors.New("policy name not passed from revoke_sessions")
		}
		return awsiam.VerifyResult{Passed: true, Checks: []awsiam.Check{{Name: "deny policy attached", Passed: true}}}, f.record("awsiam.VerifyContained")
	})
	reg("slack.Post", func(ctx context.Context, in slack.PostInput) (slack.PostResult, error) {
		return slack.PostResult{Channel: "C1", TS: "1.0001"}, f.record("slack.Post")
	})
	reg("slack.Update", func(ctx context.Context, in slack.UpdateInput) (slack.UpdateResult, error) {
		return slack.UpdateResult{Channel: in.Channel, TS: in.TS}, f.record("slack.Update")
	})
	reg("pagerduty.AddNote", func(ctx context.Context, in pagerduty.AddNoteInput) (pagerduty.AddNoteResult, error) {
		return pagerduty.AddNoteResult{NoteID: "N1"}, f.record("pagerduty.AddNote")
	})
}

func (f *fakes) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == name {
			n++
		}
	}
	return n
}

func input(t *testing.T) RunInput {
	return RunInput{
		Plan:   plan(t, "compromised-dev-key"),
		Inputs: map[string]any{"subject": "alice", "reason": "test"},
		Drill:  true, Report: Report{SlackChannel: "C1", PagerDutyIncident: "P1"},
		// The two-person gate before rotate_shared_secrets is granted by the drill bot, as in
		// `drill run --all`; two_person_test.go covers people answering it.
		AutoApprove: true,
	}
}

func runWorkflow(t *testing.T, f *fakes, in RunInput) (RunResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartWorkflowOptions(startOpts())
	f.register(env)
	env.RegisterWorkflow(Run)
	env.ExecuteWorkflow(Run, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var res RunResult
	err := env.GetWorkflowError()
	if err == nil {
		if gerr := env.GetWorkflowResult(&res); gerr != nil {
			t.Fatal(gerr)
		}
	} else {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.HasDetails() {
			_ = appErr.Details(&res)
		}
	}
	return res, err
}

// TestEachSystemOnItsOwn: a person absent from IAM has IAM's steps skipped while Vault is
// contained; a person found in no system stops the run before any change, saying where they
// were looked for; the directory's entry reaches the inventories.
func TestEachSystemOnItsOwn(t *testing.T) {
	f := &fakes{iamStatus: awsiam.StatusAbsent}
	in := input(t)
	in.Directory = []playbooks.Identity{{Subject: "alice", Vault: &playbooks.VaultIdentity{Alias: &playbooks.VaultAlias{Mount: "oidc", Name: "alice@example.com"}}, AWS: &playbooks.AWSIdentity{None: true}}}
	res, err := runWorkflow(t, f, in)
	if err != nil {
		t.Fatalf("run with no IAM user: %v", err)
	}
	status := map[string]string{}
	for _, s := range res.Steps {
		status[s.ID] = s.Status
	}
	if status["revoke_vault_tokens"] != StatusSucceeded || status["disable_entity"] != StatusSucceeded || status["deactivate_keys"] != StatusSkipped || status["revoke_sessions"] != StatusSkipped || f.count("awsiam.DeactivateKeys") != 0 {
		t.Errorf("steps %v, calls %v: want Vault contained and IAM's steps skipped", status, f.calls)
	}
	if !slices.Contains(f.identities, "vault alias oidc/alice@example.com") || !slices.Contains(f.identities, "aws {IAMUser: None:true}") {
		t.Errorf("inventories were handed %v; want the directory entry", f.identities)
	}

	f = &fakes{iamStatus: awsiam.StatusAbsent, vaultStatus: vault.StatusAbsent}
	res, err = runWorkflow(t, f, input(t))
	if err == nil || !strings.Contains(res.Error, "alice was found in no system") || !strings.Contains(res.Error, "no IAM user alice") {
		t.Fatalf("run for a person found nowhere: %v (%s); want a failure naming what was looked for", err, res.Error)
	}
	for _, c := range f.calls {
		if c == "vault.RevokeTokens" || c == "vault.DisableEntity" || c == "awsiam.DeactivateKeys" || c == "awsiam.RevokeSessions" || c == "vault.RotateSecrets" {
			t.Errorf("%s called for a person found nowhere; want no change", c)
		}
	}
}

func TestRunContains(t *testing.T) {
	f := &fakes{}
	res, err := runWorkflow(t, f, input(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeContained {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Error)
	}
	for _, s := range res.Steps {
		if s.ID == "owners_rotate" { // nothing is left to a person
			if s.Status != StatusSkipped {
				t.Errorf("step owners_rotate: %s, want skipped: every secret is rotated by firebreak", s.Status)
			}
			continue
		}
		if s.Status != StatusSucceeded {
			t.Errorf("step %s: %s %s", s.ID, s.Status, s.Error)
		}
	}
	if len(res.RemediationPending) != 0 {
		t.Errorf("remediation pending: %+v, want none", res.RemediationPending)
	}
	if len(res.Expectations) != 5 {
		t.Fatalf("expectations: %+v", res.Expectations)
	}
	for _, e := range res.Expectations {
		if !e.Passed {
			t.Errorf("expectation %s failed: %s", e.Name, e.Detail)
		}
	}
	if f.count("slack.Post") < 2 || f.count("pagerduty.AddNote") < 2 || f.count("slack.Update") < 1 {
		t.Errorf("reporting calls: %v", f.calls)
	}
	// Evidence before change: the snapshot precedes every destructive call.
	snap := -1
	for i, c := range f.calls {
		if c == "evidence.Snapshot" {
			snap = i
		}
		if (c == "vault.RevokeTokens" || c == "awsiam.DeactivateKeys" || c == "vault.RotateSecrets") && (snap < 0 || snap > i) {
			t.Errorf("%s ran before the evidence snapshot: %v", c, f.calls)
		}
	}
}

// TestRunLeavesManualSecretsToOwners: secrets a person must rotate are not rotated, nobody is
// asked to approve a rotation that would change nothing, their owners get a manual step, and
// the run says remediation is pending.
func TestRunLeavesManualSecretsToOwners(t *testing.T) {
	f := &fakes{manual: true}
	res, err := runWorkflow(t, f, input(t))
	if err != nil {
		t.Fatal(err)
	}
	if f.count("vault.RotateSecrets") != 0 {
		t.Errorf("RotateSecrets called %d times, want none: nothing firebreak may rotate", f.count("vault.RotateSecrets"))
	}
	status := map[string]string{}
	for _, s := range res.Steps {
		status[s.ID] = s.Status
	}
	if status["two_person_rotate_shared_secrets"] != StatusSkipped || status["rotate_shared_secrets"] != StatusSkipped || status["owners_rotate"] != StatusSucceeded {
		t.Errorf("statuses %v: want the gate and the rotation skipped, owners_rotate done", status)
	}
	want := []PendingRotation{{Step: "plan_rotation", Mount: "secret", Path: "shared/db", Owner: "dave"}}
	if res.Outcome != OutcomeContained || !slices.Equal(res.RemediationPending, want) {
		t.Errorf("outcome %s, remediation pending %+v; want contained with %+v", res.Outcome, res.RemediationPending, want)
	}
}

// TestOwnersMayConfirmManualSteps: a manual step's owners may confirm it besides its assignee
// role; the run's subject may not, even as an owner.
func TestOwnersMayConfirmManualSteps(t *testing.T) {
	// Signatures are not checked here (signedDecisions false): this is about who may confirm.
	r := &runner{in: RunInput{Inputs: map[string]any{"subject": "alice"}, Trigger: Trigger{By: "bob"}}}
	r.pending = []*pending{{PendingApproval: PendingApproval{Step: "owners_rotate", Kind: PendingKindManual, Roles: []string{"security-oncall"}, Needed: 1, Owners: []string{"dave", "payments-team", "alice"}}}}
	for _, tc := range []struct {
		who, email string
		roles      []string
		ok         bool
	}{
		{"dave", "", nil, true},
		{"erin", "dave", nil, true},
		{"frank", "", []string{"payments-team"}, true},
		{"grace", "", []string{"security-oncall"}, true},
		{"heidi", "", []string{"developer"}, false},
		{"alice", "", []string{"security-oncall"}, false},
	} {
		err := r.validateApproval(nil, ApprovalRequest{Step: "owners_rotate", Approver: tc.who, ApproverEmail: tc.email, ApproverRoles: tc.roles, Decision: DecisionApprove})
		if (err == nil) != tc.ok {
			t.Errorf("%s (email %q, roles %v): %v, want allowed=%v", tc.who, tc.email, tc.roles, err, tc.ok)
		}
	}
}

func TestRunSkipsRotationWithNoSecrets(t *testing.T) {
	f := &fakes{noSecrets: true}
	res, err := runWorkflow(t, f, input(t))
	if err != nil {
		t.Fatal(err)
	}
	if f.count("vault.RotateSecrets") != 0 {
		t.Fatal("rotation ran although no secret was readable")
	}
	for _, s := range res.Steps {
		if s.ID == "rotate_shared_secrets" && s.Status != StatusSkipped {
			t.Fatalf("rotate step %s", s.Status)
		}
	}
}

func TestRunFailsLoudlyOnFailedVerification(t *testing.T) {
	f := &fakes{verifyBad: true}
	res, err := runWorkflow(t, f, input(t))
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrRunFailed {
		t.Fatalf("expected a RunFailed error, got %v", err)
	}
	if res.Outcome != OutcomeFailed || !strings.Contains(res.Error, "verification failed") {
		t.Fatalf("result: %s %s", res.Outcome, res.Error)
	}
}

func TestRunStopsOnNonRetryableInventoryError(t *testing.T) {
	// The first read of Vault (compromised-dev-key reads the entity before its first cut).
	f := &fakes{failOn: map[string]error{"vault.ReadEntity": temporal.NewNonRetryableApplicationError(`vault: no identity entity named "zed"`, "UnknownSubject", nil)}}
	res, err := runWorkflow(t, f, input(t))
	if err == nil {
		t.Fatal("expected failure")
	}
	if f.count("vault.RevokeTokens")+f.count("awsiam.DeactivateKeys") != 0 {
		t.Fatalf("containment ran without inventory: %v", f.calls)
	}
	if res.Steps[0].ErrorKind != "UnknownSubject" || !strings.Contains(res.Error, "zed") {
		t.Fatalf("result does not say why: %+v", res.Steps[0])
	}
}

func TestReportingNeverBlocksContainment(t *testing.T) {
	f := &fakes{failOn: map[string]error{
		"slack.Post":        temporal.NewApplicationError("slack down", "Unavailable"),
		"pagerduty.AddNote": temporal.NewApplicationError("pagerduty down", "Unavailable"),
	}}
	res, err := runWorkflow(t, f, input(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeContained || len(res.ReportErrors) == 0 {
		t.Fatalf("outcome %s, report errors %v", res.Outcome, res.ReportErrors)
	}
}

func TestDrillIsolation(t *testing.T) {
	in := input(t)
	in.Drill = false // production input on the drill queue (startOpts uses the drill queue)
	_, err := runWorkflow(t, &fakes{}, in)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != "DrillIsolation" {
		t.Fatalf("expected DrillIsolation, got %v", err)
	}
}

// Every catalog action is bound to an activity, and every argument the catalog declares has
// a field with that JSON name in the activity's input.
func TestBindingsCoverCatalog(t *testing.T) {
	builtins := 0
	for _, a := range playbooks.Catalog() {
		if a.Builtin {
			builtins++
			if _, ok := bindings[a.Name]; ok {
				t.Errorf("built-in action %s must not have an activity binding", a.Name)
			}
			continue
		}
		b, ok := bindings[a.Name]
		if !ok {
			t.Errorf("action %s has no activity binding", a.Name)
			continue
		}
		fields := jsonFields(b.in)
		for _, p := range a.Args {
			if !fields[p.Name] {
				t.Errorf("action %s: argument %s has no field in %s", a.Name, p.Name, b.in)
			}
		}
		outs := jsonFields(b.out)
		for _, p := range a.Outputs {
			if !outs[p.Name] {
				t.Errorf("action %s: output %s has no field in %s", a.Name, p.Name, b.out)
			}
		}
	}
	if len(bindings) != len(playbooks.Catalog())-builtins {
		t.Errorf("%d bindings for %d catalog actions (%d built in)", len(bindings), len(playbooks.Catalog()), builtins)
	}
}

func jsonFields(t reflect.Type) map[string]bool {
	fields := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		fields[strings.Split(t.Field(i).Tag.Get("json"), ",")[0]] = true
	}
	return fields
}

func startOpts() client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: "drill/compromised-dev-key/alice/test", TaskQueue: DrillTaskQueue, WorkflowExecutionTimeout: time.Hour}
}

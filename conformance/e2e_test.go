package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/hashicorp/vault/api"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/testenv/realserver"
	"github.com/firebreak-dev/firebreak/workflows"
)

func iamClient(endpoint string) *iam.Client {
	return iam.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDMOTOTESTKEY00000", "moto-accepts-any-secret", ""),
	}, func(o *iam.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.RetryMaxAttempts = 1
	})
}

// e2eRig runs compromised-dev-key through the interpreter workflow with the real activities
// pointed at OpenBao and moto.
type e2eRig struct {
	t        *testing.T
	vault    *api.Client
	iam      *iam.Client
	evidence string
	plan     playbooks.Plan
	dir      []playbooks.Identity
}

func (rg *e2eRig) run(subject string, patience time.Duration) (workflows.RunResult, error) {
	t := rg.t
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "drill/compromised-dev-key/" + subject + "/e2e", TaskQueue: workflows.DrillTaskQueue, WorkflowExecutionTimeout: time.Hour})
	store, err := evidence.OpenFileStore(rg.evidence)
	if err != nil {
		t.Fatal(err)
	}
	va := &vault.Activities{Client: rg.vault.Logical(), TokenClient: vault.TokenClientOf(rg.vault), Patience: patience, NewSecret: func(path, field string, _ vault.Format) (string, error) {
		return "rotated-" + testenv.Canary + "-" + field, nil
	}}
	vault.Register(env, va)
	awsiam.Register(env, &awsiam.Activities{Client: rg.iam, Patience: patience})
	env.RegisterActivityWithOptions(&evidence.Activities{Store: store}, activity.RegisterOptions{Name: evidence.ActivityPrefix})
	env.RegisterWorkflow(workflows.Run)
	in := workflows.RunInput{
		Plan: rg.plan, Inputs: map[string]any{"subject": subject, "reason": "e2e against OpenBao and moto"},
		// A drill only so that the drill bot grants the two-person gate; the activities act
		// on OpenBao and moto.
		Drill: true, AutoApprove: true,
		Trigger:   workflows.Trigger{Kind: "cli", By: "e2e", At: time.Now()},
		Directory: rg.directoryFor(subject),
	}
	env.ExecuteWorkflow(workflows.Run, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var res workflows.RunResult
	err = env.GetWorkflowError()
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

func (rg *e2eRig) directoryFor(subject string) []playbooks.Identity {
	var out []playbooks.Identity
	for _, e := range rg.dir {
		if e.Subject == subject {
			out = append(out, e)
		}
	}
	return out
}

// versions reads the current version of every secret, mount/path → version.
func versions(t *testing.T, c *api.Client, paths []string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, p := range paths {
		mount, rest, _ := strings.Cut(p, "/")
		md, err := c.KVv2(mount).GetMetadata(context.Background(), rest)
		if err != nil {
			t.Fatalf("metadata of %s: %v", p, err)
		}
		out[p] = md.CurrentVersion
	}
	return out
}

// vaultSays asks OpenBao itself, with no firebreak code in between, which of paths the
// person could read: each live token of theirs (capabilities-accessor) and a fresh login
// through userpass (capabilities-self with the login's own token).
func vaultSays(t *testing.T, c *api.Client, user string, live []string, paths []string) []string {
	t.Helper()
	ctx := context.Background()
	var data []string
	for _, p := range paths {
		mount, rest, _ := strings.Cut(p, "/")
		data = append(data, mount+"/data/"+rest)
	}
	readable := map[string]bool{}
	take := func(s *api.Secret) {
		for i, dp := range data {
			caps, _ := s.Data[dp].([]any)
			for _, c := range caps {
				if c == "read" || c == "root" {
					readable[paths[i]] = true
				}
			}
		}
	}
	for _, acc := range live {
		s, err := c.Logical().WriteWithContext(ctx, "sys/capabilities-accessor", map[string]any{"accessor": acc, "paths": data})
		if err != nil {
			t.Fatal(err)
		}
		take(s)
	}
	login, err := c.Logical().WriteWithContext(ctx, "auth/userpass/login/"+user, map[string]any{"password": "pw-" + testenv.Canary})
	if err != nil {
		t.Fatal(err)
	}
	lc, err := c.Clone()
	if err != nil {
		t.Fatal(err)
	}
	lc.SetToken(login.Auth.ClientToken)
	s, err := lc.Logical().WriteWithContext(ctx, "sys/capabilities-self", map[string]any{"paths": data})
	if err != nil {
		t.Fatal(err)
	}
	take(s)
	var out []string
	for _, p := range paths {
		if readable[p] {
			out = append(out, p)
		}
	}
	return out
}

func stepStatus(res workflows.RunResult) map[string]string {
	out := map[string]string{}
	for _, s := range res.Steps {
		out[s.ID] = s.Status
	}
	return out
}

// TestCompromisedDevKeyAgainstOpenBaoAndMoto is issue 14's "done when": OpenBao and moto set
// up like a real organisation (entities Vault named itself, aliases, a group, templated and
// auth-method policies, secrets inside and outside shared/ in two mounts, a person with no
// IAM user, Vault down during a run). compromised-dev-key contains what exists, rotates
// exactly the secrets Vault says the person can read (with and without live tokens), and
// reports what it could not do.
func TestCompromisedDevKeyAgainstOpenBaoAndMoto(t *testing.T) {
	if testing.Short() {
		t.Skip("the end-to-end run against OpenBao and moto is skipped in -short mode")
	}
	bao := realserver.StartOpenBao(t, "root-"+testenv.Canary)
	endpoint := realserver.StartMoto(t)
	vc := newVaultClient(t, bao.Addr, bao.Root)
	seed := realVaultOrg(t, vc)
	ic := iamClient(endpoint)
	ctx := context.Background()
	mustIAM := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("seeding moto: %v", err)
		}
	}
	var aliceKeys, bobKeys []string
	for user, keys := range map[string]*[]string{"alice.smith": &aliceKeys, "bob": &bobKeys} {
		mustIAM(ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}))
		out, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
		mustIAM(out, err)
		*keys = append(*keys, aws.ToString(out.AccessKey.AccessKeyId))
	}
	mustIAM(ic.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String("alice.smith"), Password: aws.String("Corr3ct-Horse-Battery")}))
	plan := mustPlan(t, "compromised-dev-key")
	rg := &e2eRig{t: t, vault: vc, iam: ic, evidence: t.TempDir(), plan: plan, dir: []playbooks.Identity{
		{Subject: "alice", Vault: &playbooks.VaultIdentity{Alias: &playbooks.VaultAlias{Mount: "userpass", Name: "alice"}}, AWS: &playbooks.AWSIdentity{IAMUser: "alice.smith"}},
		{Subject: "dave", Vault: &playbooks.VaultIdentity{Alias: &playbooks.VaultAlias{Mount: "userpass", Name: "dave"}}, AWS: &playbooks.AWSIdentity{None: true}},
	}}

	// alice, with live tokens: everything she holds is cut, and exactly what Vault says she
	// can read is rotated.
	before := versions(t, vc, seed.paths)
	want := vaultSays(t, vc, "alice", seed.aliceTokens, seed.paths)
	if !reflect.DeepEqual(want, []string{"secret/shared/a", "secret/shared/b", "secret/shared/d", "secret/users/alice/x", "team/payments/db"}) {
		t.Fatalf("OpenBao says alice can read %v; the scenario expects shared/a, b, d, users/alice/x and team/payments/db", want)
	}
	res, err := rg.run("alice", 20*time.Second)
	if err != nil || res.Outcome != workflows.OutcomeContained {
		t.Fatalf("alice: %v (%s); steps %v", err, res.Error, stepStatus(res))
	}
	after := versions(t, vc, seed.paths)
	var rotated []string
	for _, p := range seed.paths {
		if after[p] > before[p] {
			rotated = append(rotated, p)
		}
	}
	if !reflect.DeepEqual(rotated, want) {
		t.Errorf("alice: rotated %v; Vault says she could read %v", rotated, want)
	}
	for _, k := range aliceKeys {
		keys, err := ic.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice.smith")})
		mustIAM(keys, err)
		for _, m := range keys.AccessKeyMetadata {
			if aws.ToString(m.AccessKeyId) == k && m.Status != "Inactive" {
				t.Errorf("alice.smith's key %s is %s after the run; want Inactive", k, m.Status)
			}
		}
	}
	ent, err := vc.Logical().Read("identity/entity/id/" + seed.aliceEntity)
	if err != nil || ent.Data["disabled"] != true {
		t.Errorf("alice's entity after the run: %v %v; want disabled", ent, err)
	}

	// dave, with no live token and no IAM user: Vault is contained, IAM is recorded as not
	// present, and what his next login could read is rotated.
	if accs, err := liveAccessors(vc, seed.daveEntity); err != nil {
		t.Fatal(err)
	} else {
		for _, acc := range accs {
			if _, err := vc.Logical().Write("auth/token/revoke-accessor", map[string]any{"accessor": acc}); err != nil {
				t.Fatal(err)
			}
		}
	}
	before = versions(t, vc, seed.paths)
	want = vaultSays(t, vc, "dave", nil, seed.paths)
	res, err = rg.run("dave", 20*time.Second)
	if err != nil || res.Outcome != workflows.OutcomeContained {
		t.Fatalf("dave: %v (%s); steps %v", err, res.Error, stepStatus(res))
	}
	after = versions(t, vc, seed.paths)
	rotated = nil
	for _, p := range seed.paths {
		if after[p] > before[p] {
			rotated = append(rotated, p)
		}
	}
	if !reflect.DeepEqual(rotated, want) || len(want) == 0 {
		t.Errorf("dave: rotated %v; Vault says his next login could read %v", rotated, want)
	}
	st := stepStatus(res)
	if st["deactivate_keys"] != workflows.StatusSkipped || st["disable_entity"] != workflows.StatusSucceeded {
		t.Errorf("dave: steps %v; want IAM's skipped and Vault's done", st)
	}
	if !slices.ContainsFunc(res.Verifications, func(c workflows.Check) bool {
		return c.Name == "not present in IAM" && c.Passed && strings.Contains(c.Detail, "aws: none")
	}) {
		t.Errorf("dave: verifications %+v; want one saying he is not present in IAM", res.Verifications)
	}

	// Vault down during bob's run: his IAM key is still deactivated and verified, and the run
	// says Vault could not be contained.
	bao.Stop()
	// The test environment does not tell an activity its retry policy, so patience stands
	// for "the last attempt" here: the first failure to reach Vault is final.
	res, err = rg.run("bob", time.Nanosecond)
	if err == nil || res.Outcome == workflows.OutcomeContained {
		t.Fatalf("bob with Vault down: outcome %s, %v; want a failed run", res.Outcome, err)
	}
	st = stepStatus(res)
	if st["deactivate_keys"] != workflows.StatusSucceeded || st["verify_iam"] != workflows.StatusSucceeded || st["revoke_vault_tokens"] != workflows.StatusSkipped || st["verify_vault"] != workflows.StatusFailed {
		t.Errorf("bob with Vault down: steps %v; want IAM contained and verified, Vault skipped and its verification failed", st)
	}
	if !strings.Contains(res.Error, "verify_vault") {
		t.Errorf("bob with Vault down: the run's error %q does not say Vault could not be verified", res.Error)
	}
	keys, err := ic.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("bob")})
	mustIAM(keys, err)
	if len(keys.AccessKeyMetadata) != 1 || keys.AccessKeyMetadata[0].Status != "Inactive" {
		t.Errorf("bob's keys with Vault down: %+v; want his one key Inactive", keys.AccessKeyMetadata)
	}
	for _, s := range res.Steps {
		if s.ID == "vault_inventory" && fmt.Sprint(s.Outputs["status"]) != vault.StatusUnavailable {
			t.Errorf("bob's Vault inventory with Vault down: %v; want status unavailable", s.Outputs)
		}
	}
}

// liveAccessors lists the accessors of the entity's live tokens.
func liveAccessors(c *api.Client, entityID string) ([]string, error) {
	list, err := c.Logical().List("auth/token/accessors")
	if err != nil || list == nil {
		return nil, err
	}
	var out []string
	keys, _ := list.Data["keys"].([]any)
	for _, k := range keys {
		s, err := c.Logical().Write("auth/token/lookup-accessor", map[string]any{"accessor": k})
		if err != nil {
			continue
		}
		if s.Data["entity_id"] == entityID {
			out = append(out, fmt.Sprint(k))
		}
	}
	return out, nil
}

func mustPlan(t *testing.T, name string) playbooks.Plan {
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

func staticCreds(id, secret string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(id, secret, "")
}

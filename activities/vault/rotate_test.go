package vault_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/activities/httpreq"
	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv"
)

// rotationHarness is the sandbox Vault (with its database engine) and the sandbox's rotation
// service, with the activities pointed at both and generating values for real.
func rotationHarness(t *testing.T) (*harness, *testenv.SecretService) {
	t.Helper()
	h := newHarness(t)
	org := testenv.DefaultOrg()
	var stripe string
	for _, s := range org.Secrets {
		if s.Path == "shared/stripe-api" {
			stripe = s.Data["api_key"]
		}
	}
	svc := testenv.NewSecretService(h.rec, stripe)
	t.Cleanup(svc.Close)
	h.acts = &vault.Activities{Client: h.client(h.v.RootToken()).Logical(), Services: httpreq.Rotator{Services: []httpreq.Service{
		{Name: testenv.SecretServiceName, BaseURL: svc.URL(), Headers: map[string]string{"Authorization": "Bearer " + svc.Token()}},
	}}}
	return h, svc
}

// TestRotateByStrategy rotates one secret of each kind and asks the systems that check the
// credentials whether the old one still works.
func TestRotateByStrategy(t *testing.T) {
	h, svc := rotationHarness(t)
	before := map[string]map[string]string{}
	paths := []string{"shared/payments-db", "shared/stripe-api", "shared/ci/webhook-hmac", "shared/ci/deploy-key", "shared/analytics-db"}
	var refs []vault.SecretRef
	for _, p := range paths {
		before[p], _, _ = h.v.Secret("secret", p)
		refs = append(refs, vault.SecretRef{Mount: "secret", Path: p, Version: 1})
	}

	var plan vault.PlanRotationResult
	if err := h.run(h.acts, "PlanRotation", vault.PlanRotationInput{Secrets: refs}, &plan); err != nil {
		t.Fatalf("PlanRotation: %v", err)
	}
	wantPlan := []vault.PlannedRotation{
		{Mount: "secret", Path: "shared/payments-db", Version: 1, Strategy: "database:database/payments"},
		{Mount: "secret", Path: "shared/stripe-api", Version: 1, Strategy: "service:payments-admin/rotate/stripe"},
		{Mount: "secret", Path: "shared/ci/webhook-hmac", Version: 1, Strategy: "generate:hmac_key"},
	}
	if !reflect.DeepEqual(plan.Rotatable, wantPlan) || len(plan.Manual) != 2 || len(plan.Problems) != 0 {
		t.Fatalf("plan = %+v, want rotatable %+v and two manual", plan, wantPlan)
	}
	if n := h.rec.Count("vault", "POST database/rotate-role/payments") + h.rec.Count("vault", "POST secret/data/shared/payments-db"); n != 0 {
		t.Fatalf("PlanRotation changed something: %d writes", n)
	}

	var res vault.RotateSecretsResult
	if err := h.run(h.acts, "RotateSecrets", vault.RotateSecretsInput{Secrets: refs, IdempotencyKey: "inc-1/rotate"}, &res); err != nil {
		t.Fatalf("RotateSecrets: %v", err)
	}
	if len(res.Rotated) != 3 || len(res.PendingManual) != 2 || len(res.Failed) != 0 {
		t.Fatalf("result = %+v, want 3 rotated, 2 pending, none failed", res)
	}

	// database: Vault rotated the password in the database; the copy holds the new one.
	db, v, _ := h.v.Secret("secret", "shared/payments-db")
	if v != 2 || db["username"] != "payments" || db["password"] == before["shared/payments-db"]["password"] {
		t.Errorf("payments-db copy: version %d username %q, password changed=%v; want version 2, same username, new password", v, db["username"], db["password"] != before["shared/payments-db"]["password"])
	}
	if h.v.DatabaseLogin("database", "payments", before["shared/payments-db"]["password"]) {
		t.Error("the old database password still logs in")
	}
	if !h.v.DatabaseLogin("database", "payments", db["password"]) {
		t.Error("the password in the KV copy does not log in")
	}
	if r := res.Rotated[0]; r.Upstream != "database/rotate-role/payments" || !reflect.DeepEqual(r.Fields, []string{"password"}) {
		t.Errorf("database rotation = %+v", r)
	}

	// service: the service issued a new key and revoked the old; the copy holds the new one.
	stripe, v, _ := h.v.Secret("secret", "shared/stripe-api")
	if v != 2 || svc.Valid("stripe", before["shared/stripe-api"]["api_key"]) || !svc.Valid("stripe", stripe["api_key"]) {
		t.Errorf("stripe-api: version %d, old key valid=%v, new key valid=%v; want 2, false, true", v, svc.Valid("stripe", before["shared/stripe-api"]["api_key"]), svc.Valid("stripe", stripe["api_key"]))
	}

	// generate: only hmac_key, in its format (48 hex characters); algorithm kept.
	hmac, v, _ := h.v.Secret("secret", "shared/ci/webhook-hmac")
	if v != 2 || hmac["algorithm"] != "sha256" || !regexp.MustCompile(`^[0-9a-f]{48}$`).MatchString(hmac["hmac_key"]) {
		t.Errorf("webhook-hmac: version %d algorithm %q, hmac_key in format=%v", v, hmac["algorithm"], regexp.MustCompile(`^[0-9a-f]{48}$`).MatchString(hmac["hmac_key"]))
	}

	// manual and unmarked: untouched, pending for their owners.
	for _, p := range []string{"shared/ci/deploy-key", "shared/analytics-db"} {
		if now, v, _ := h.v.Secret("secret", p); v != 1 || !reflect.DeepEqual(now, before[p]) {
			t.Errorf("%s changed to version %d; want it untouched", p, v)
		}
	}
	want := []vault.ManualRotation{
		{Mount: "secret", Path: "shared/ci/deploy-key", Version: 1, Owner: "carol", Marked: true},
		{Mount: "secret", Path: "shared/analytics-db", Version: 1, Owner: "", Marked: false},
	}
	for i, m := range res.PendingManual {
		if m.Instructions == "" || !strings.Contains(m.Instructions, m.Mount+"/"+m.Path) {
			t.Errorf("pending %s has instructions %q, want them to name the secret", m.Path, m.Instructions)
		}
		m.Instructions = ""
		if m != want[i] {
			t.Errorf("pending[%d] = %+v, want %+v", i, m, want[i])
		}
	}

	// A retry of the same rotation rotates nothing again.
	var again vault.RotateSecretsResult
	if err := h.run(h.acts, "RotateSecrets", vault.RotateSecretsInput{Secrets: refs, IdempotencyKey: "inc-1/rotate"}, &again); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if !reflect.DeepEqual(again, res) || h.v.DatabaseRotations("database", "payments") != 1 || svc.Rotations("stripe") != 1 {
		t.Errorf("retry: %+v (database rotations %d, service rotations %d), want the same result and nothing rotated twice", again, h.v.DatabaseRotations("database", "payments"), svc.Rotations("stripe"))
	}
	h.noCanary()
}

// TestGenerateKeepsOtherFields: generate changes only the named fields; every other field,
// whatever its JSON type, is written back exactly as it was.
func TestGenerateKeepsOtherFields(t *testing.T) {
	h, _ := rotationHarness(t)
	c := h.client(h.v.RootToken()).Logical()
	orig := map[string]any{"user": "svc_alice", "password": "pw-" + testenv.Canary, "port": 5432, "tls": true, "hosts": []any{"db1", "db2"}, "opts": map[string]any{"pool": 4}}
	if _, err := c.Write("secret/data/shared/typed", map[string]any{"data": orig}); err != nil {
		t.Fatal(err)
	}
	h.mark("secret", "shared/typed", map[string]string{vault.MetaRotate: "generate:password", vault.MetaRotateFormat: "length=20,alphabet=lower"})
	var res vault.RotateSecretsResult
	if err := h.run(h.acts, "RotateSecrets", vault.RotateSecretsInput{Secrets: []vault.SecretRef{{Mount: "secret", Path: "shared/typed"}}, IdempotencyKey: "k"}, &res); err != nil || len(res.Rotated) != 1 {
		t.Fatalf("RotateSecrets: %+v %v", res, err)
	}
	s, err := c.Read("secret/data/shared/typed")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Data["data"].(map[string]any)
	pw, _ := got["password"].(string)
	if pw == orig["password"] || !regexp.MustCompile(`^[a-z0-9]{20}$`).MatchString(pw) {
		t.Errorf("password not regenerated in format length=20,alphabet=lower")
	}
	delete(got, "password")
	want := map[string]any{}
	b, _ := json.Marshal(orig)
	_ = json.Unmarshal(b, &want)
	delete(want, "password")
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("other fields = %s, want %s verbatim", gb, wb)
	}
}

// TestRotateBadMarks: each secret whose mark cannot be acted on fails with a clear error of
// its own, found by PlanRotation before anything changes, and the good secret still rotates.
func TestRotateBadMarks(t *testing.T) {
	h, svc := rotationHarness(t)
	marks := map[string]map[string]string{
		"shared/payments-db":     {vault.MetaRotate: "database:database/ghost"},
		"shared/analytics-db":    {vault.MetaRotate: "rotate-magic"},
		"shared/ci/deploy-key":   {vault.MetaRotate: "generate:passphrase"},
		"shared/ci/webhook-hmac": {vault.MetaRotate: "service:nowhere/rotate"},
	}
	for p, m := range marks {
		h.mark("secret", p, m)
	}
	refs := []vault.SecretRef{
		{Mount: "secret", Path: "shared/payments-db"}, {Mount: "secret", Path: "shared/analytics-db"},
		{Mount: "secret", Path: "shared/ci/deploy-key"}, {Mount: "secret", Path: "shared/ci/webhook-hmac"},
		{Mount: "secret", Path: "shared/stripe-api"},
	}
	want := []struct{ path, kind, says string }{
		{"shared/payments-db", vault.ErrNoSuchRole, `no database static role "ghost" on mount database`},
		{"shared/analytics-db", vault.ErrUnknownStrategy, `unknown strategy "rotate-magic"`},
		{"shared/ci/deploy-key", vault.ErrNoSuchField, "field(s) passphrase that version 1 does not have; its fields are private_key"},
		{"shared/ci/webhook-hmac", vault.ErrUnknownService, `no http service "nowhere" is configured`},
	}
	check := func(what string, got []vault.RotationFailure) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %+v, want %d failures", what, got, len(want))
		}
		for i, w := range want {
			if got[i].Path != w.path || got[i].Kind != w.kind || !strings.Contains(got[i].Error, w.says) {
				t.Errorf("%s[%d] = %+v, want %s %s saying %q", what, i, got[i], w.path, w.kind, w.says)
			}
		}
	}
	var plan vault.PlanRotationResult
	if err := h.run(h.acts, "PlanRotation", vault.PlanRotationInput{Secrets: refs}, &plan); err != nil {
		t.Fatal(err)
	}
	check("plan problems", plan.Problems)
	if len(plan.Rotatable) != 1 || plan.Rotatable[0].Path != "shared/stripe-api" {
		t.Fatalf("plan rotatable = %+v, want shared/stripe-api", plan.Rotatable)
	}

	var res vault.RotateSecretsResult
	if err := h.run(h.acts, "RotateSecrets", vault.RotateSecretsInput{Secrets: refs, IdempotencyKey: "k"}, &res); err != nil {
		t.Fatal(err)
	}
	check("failed", res.Failed)
	if len(res.Rotated) != 1 || res.Rotated[0].Path != "shared/stripe-api" {
		t.Fatalf("rotated = %+v, want shared/stripe-api despite the others", res.Rotated)
	}
	for _, p := range []string{"shared/payments-db", "shared/analytics-db", "shared/ci/deploy-key", "shared/ci/webhook-hmac"} {
		if _, v, _ := h.v.Secret("secret", p); v != 1 {
			t.Errorf("%s is at version %d; a secret that failed must be untouched", p, v)
		}
	}

	// A service that answers an error: that secret fails, with the service's answer.
	svc.RefuseRotations(http.StatusConflict)
	if err := h.run(h.acts, "RotateSecrets", vault.RotateSecretsInput{Secrets: refs[4:], IdempotencyKey: "k2"}, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 1 || res.Failed[0].Kind != vault.ErrServiceFailed || !strings.Contains(res.Failed[0].Error, "answered POST /rotate/stripe with 409") || !strings.Contains(res.Failed[0].Error, "locked by its owner") {
		t.Fatalf("refusing service: %+v, want ServiceFailed naming the 409 and the service's reason", res)
	}
	if _, v, _ := h.v.Secret("secret", "shared/stripe-api"); v != 2 {
		t.Errorf("stripe-api at version %d after a refused rotation, want still 2", v)
	}
	h.noCanary()
}

func TestParseStrategy(t *testing.T) {
	tests := []struct {
		meta    map[string]any
		want    string
		wantErr string
	}{
		{nil, vault.StrategyUnmarked, ""},
		{map[string]any{"firebreak-rotate": "manual", "owner": "carol"}, "manual", ""},
		{map[string]any{"firebreak-rotate": "generate:a, b"}, "generate:a,b", ""},
		{map[string]any{"firebreak-rotate": "generate:a,a"}, "", "distinct field names"},
		{map[string]any{"firebreak-rotate": "generate:"}, "", "distinct field names"},
		{map[string]any{"firebreak-rotate": "database:db/prod/app"}, "database:db/prod/app", ""},
		{map[string]any{"firebreak-rotate": "database:app"}, "", "expected database:MOUNT/ROLE"},
		{map[string]any{"firebreak-rotate": "database-root:database/pg"}, "database-root:database/pg", ""},
		{map[string]any{"firebreak-rotate": "service:svc/rotate/x"}, "service:svc/rotate/x", ""},
		{map[string]any{"firebreak-rotate": "service:svc"}, "", "expected service:NAME/PATH"},
		{map[string]any{"firebreak-rotate": "manual:now"}, "", "manual takes no argument"},
		{map[string]any{"firebreak-rotate": "random"}, "", `unknown strategy "random"`},
		{map[string]any{"firebreak-rotate": "generate:k", "firebreak-rotate-format": "length=8"}, "", "length: expected a number from 16 to 256"},
		{map[string]any{"firebreak-rotate": "generate:k", "firebreak-rotate-format": "alphabet=emoji"}, "", "alphabet: expected one of"},
		{map[string]any{"firebreak-rotate-format": "length=20"}, "", "is set but firebreak-rotate is not"},
	}
	for _, tc := range tests {
		s, err := vault.ParseStrategy("secret/x", tc.meta)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%v: error %v, want one saying %q", tc.meta, err, tc.wantErr)
		case tc.wantErr == "" && err != nil:
			t.Errorf("%v: %v", tc.meta, err)
		case tc.wantErr == "" && s.String() != tc.want:
			t.Errorf("%v: %q, want %q", tc.meta, s.String(), tc.want)
		}
	}
}

// TestPlanRotationPlansEachSecretOnce: compromised-dev-key joins what the next login could
// read (asked before the first cut) with what the live tokens carried (found after it), so
// the same secret may come twice; it is planned, and so rotated, once.
func TestPlanRotationPlansEachSecretOnce(t *testing.T) {
	h, _ := rotationHarness(t)
	refs := []vault.SecretRef{
		{Mount: "secret", Path: "shared/ci/webhook-hmac", Version: 1},
		{Mount: "secret", Path: "shared/ci/deploy-key", Version: 1},
		{Mount: "secret", Path: "shared/ci/webhook-hmac", Version: 1},
		{Mount: "secret", Path: "shared/ci/deploy-key", Version: 1},
	}
	var plan vault.PlanRotationResult
	if err := h.run(h.acts, "PlanRotation", vault.PlanRotationInput{Secrets: refs}, &plan); err != nil {
		t.Fatalf("PlanRotation: %v", err)
	}
	if len(plan.Rotatable) != 1 || len(plan.Manual) != 1 || len(plan.Problems) != 0 {
		t.Fatalf("plan = %+v; want webhook-hmac rotatable once and deploy-key manual once", plan)
	}
}

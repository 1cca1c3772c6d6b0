package workflows

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-dev/firebreak/activities/awsiam"
	"github.com/firebreak-dev/firebreak/activities/evidence"
	"github.com/firebreak-dev/firebreak/activities/httpreq"
	"github.com/firebreak-dev/firebreak/activities/oidc"
	"github.com/firebreak-dev/firebreak/activities/pagerduty"
	"github.com/firebreak-dev/firebreak/activities/slack"
	"github.com/firebreak-dev/firebreak/activities/vault"
)

// binding runs one catalog action as an activity: it decodes the evaluated arguments into the
// activity's input struct and returns its result as plain data for expressions.
type binding struct {
	activity string       // registered activity name
	in       reflect.Type // the activity's input struct
	out      reflect.Type // the activity's result struct
	run      func(ctx workflow.Context, args map[string]any) (map[string]any, error)
}

// bind makes a binding from an activity method reference, e.g. bind(vault.ActivityPrefix, va.Inventory).
// The name is derived from the method, as the SDK does, so a rename cannot silently break it.
func bind[In, Out any](prefix string, fn func(context.Context, In) (Out, error)) binding {
	name := prefix + methodName(fn)
	return binding{
		activity: name,
		in:       reflect.TypeFor[In](),
		out:      reflect.TypeFor[Out](),
		run: func(ctx workflow.Context, args map[string]any) (map[string]any, error) {
			var in In
			if err := recode(args, &in); err != nil {
				return nil, fmt.Errorf("arguments of %s: %w", name, err)
			}
			var out Out
			if err := workflow.ExecuteActivity(ctx, name, in).Get(ctx, &out); err != nil {
				return nil, err
			}
			m := map[string]any{}
			if err := recode(out, &m); err != nil {
				return nil, fmt.Errorf("result of %s: %w", name, err)
			}
			return m, nil
		},
	}
}

func methodName(fn any) string {
	full := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	full = strings.TrimSuffix(full, "-fm")
	return full[strings.LastIndex(full, ".")+1:]
}

// recode converts between plain data and structs through JSON; integral numbers come back as
// int64 so expressions see ints, not doubles.
func recode(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(to); err != nil {
		return err
	}
	if m, ok := to.(*map[string]any); ok {
		for k, v := range *m {
			(*m)[k] = numbers(v)
		}
	}
	return nil
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = numbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = numbers(x[k])
		}
	}
	return v
}

// Method references through nil pointers: the workflow never holds a client.
var (
	va *vault.Activities
	ia *awsiam.Activities
	ea *evidence.Activities
	ha *httpreq.Activities
	sa *slack.Activities
	pa *pagerduty.Activities
	oa *oidc.Activities
)

// bindings maps each catalog action to its activity. A test checks it covers the catalog and
// that every action argument has a field in the activity's input.
var bindings = map[string]binding{
	"http.request":                  bind(httpreq.ActivityPrefix, ha.Request),
	"evidence.snapshot":             bind(evidence.ActivityPrefix, ea.Snapshot),
	"vault.inventory":               bind(vault.ActivityPrefix, va.Inventory),
	"vault.inventory_many":          bind(vault.ActivityPrefix, va.InventoryMany),
	"vault.read_entity":             bind(vault.ActivityPrefix, va.ReadEntity),
	"vault.readable_secrets":        bind(vault.ActivityPrefix, va.ReadableSecrets),
	"vault.capture_next_login":      bind(vault.ActivityPrefix, va.CaptureNextLogin),
	"vault.revoke_tokens":           bind(vault.ActivityPrefix, va.RevokeTokens),
	"vault.disable_entity":          bind(vault.ActivityPrefix, va.DisableEntity),
	"vault.enable_entity":           bind(vault.ActivityPrefix, va.EnableEntity),
	"vault.rotate_secrets":          bind(vault.ActivityPrefix, va.RotateSecrets),
	"vault.plan_rotation":           bind(vault.ActivityPrefix, va.PlanRotation),
	"vault.verify_revoked":          bind(vault.ActivityPrefix, va.VerifyRevoked),
	"vault.verify_rotated":          bind(vault.ActivityPrefix, va.VerifyRotated),
	"awsiam.inventory":              bind(awsiam.ActivityPrefix, ia.Inventory),
	"awsiam.list_keys":              bind(awsiam.ActivityPrefix, ia.ListKeys),
	"awsiam.deactivate_keys":        bind(awsiam.ActivityPrefix, ia.DeactivateKeys),
	"awsiam.revoke_sessions":        bind(awsiam.ActivityPrefix, ia.RevokeSessions),
	"awsiam.verify_contained":       bind(awsiam.ActivityPrefix, ia.VerifyContained),
	"awsiam.delete_login_profile":   bind(awsiam.ActivityPrefix, ia.DeleteLoginProfile),
	"awsiam.deactivate_mfa_devices": bind(awsiam.ActivityPrefix, ia.DeactivateMFADevices),
	"awsiam.remove_from_groups":     bind(awsiam.ActivityPrefix, ia.RemoveFromGroups),
	"awsiam.tag_user":               bind(awsiam.ActivityPrefix, ia.TagUser),
	"pagerduty.acknowledge":         bind(pagerduty.ActivityPrefix, pa.Acknowledge),
	"pagerduty.resolve":             bind(pagerduty.ActivityPrefix, pa.Resolve),
	"pagerduty.oncall":              bind(pagerduty.ActivityPrefix, pa.OnCall),
	"slack.lookup_user":             bind(slack.ActivityPrefix, sa.LookupUser),
	"slack.post":                    bind(slack.ActivityPrefix, sa.Post),
	"pagerduty.note":                bind(pagerduty.ActivityPrefix, pa.AddNote),
	"vault.revoke_lease_prefix":     bind(vault.ActivityPrefix, va.RevokeLeasePrefix),
	"vault.destroy_totp":            bind(vault.ActivityPrefix, va.DestroyTOTP),
	"awsiam.delete_keys":            bind(awsiam.ActivityPrefix, ia.DeleteAccessKeys),
	"awsiam.rotate_key":             bind(awsiam.ActivityPrefix, ia.RotateKey),
	"awsiam.plan_rotate_key":        bind(awsiam.ActivityPrefix, ia.PlanRotateKey),
	"pagerduty.escalate":            bind(pagerduty.ActivityPrefix, pa.Escalate),
	"oidc.revoke_token":             bind(oidc.ActivityPrefix, oa.RevokeToken),
	"oidc.verify_revoked":           bind(oidc.ActivityPrefix, oa.VerifyRevoked),
}

// ActivityOf names the activity type a catalog action runs ("vault.disable_entity" →
// "vault.DisableEntity"); "" for actions the workflow carries out itself (approval.request,
// wait, manual). The audit record uses it to tie a history's activities to plan steps.
func ActivityOf(action string) string { return bindings[action].activity }

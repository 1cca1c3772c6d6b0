package vault_test

import (
	"reflect"
	"testing"

	"github.com/firebreak-dev/firebreak/activities/vault"
)

// TestInventoryMany checks that one pass gives each subject exactly what Inventory gives it,
// while looking each token up once rather than once per subject.
func TestInventoryMany(t *testing.T) {
	subjects := []string{"carol", "alice", "bob"}
	h := newHarness(t)
	var want []vault.InventoryResult
	for _, s := range subjects {
		var res vault.InventoryResult
		if err := h.run(h.acts, "Inventory", vault.InventoryInput{Subject: s}, &res); err != nil {
			t.Fatalf("Inventory %s: %v", s, err)
		}
		want = append(want, res)
	}
	singleLookups := h.rec.Count("vault", "POST auth/token/lookup-accessor")
	h.rec.Reset()

	var got vault.InventoryManyResult
	if err := h.run(h.acts, "InventoryMany", vault.InventoryManyInput{Subjects: subjects}, &got); err != nil {
		t.Fatalf("InventoryMany: %v", err)
	}
	if !reflect.DeepEqual(got.Items, want) {
		t.Errorf("InventoryMany items differ from Inventory per subject:\n got %+v\nwant %+v", got.Items, want)
	}
	var wantAccessors []string
	for _, w := range want {
		wantAccessors = append(wantAccessors, w.Accessors...)
	}
	if !reflect.DeepEqual(got.Accessors, wantAccessors) {
		t.Errorf("accessors = %v, want %v", got.Accessors, wantAccessors)
	}
	union := map[string]bool{}
	for _, w := range want {
		for _, p := range w.ReadablePaths {
			union[p] = true
		}
	}
	if len(got.ReadableSecrets) != len(union) || len(union) == 0 {
		t.Errorf("readable secrets = %+v, want each of %v once", got.ReadableSecrets, union)
	}
	for i, ref := range got.ReadableSecrets {
		if !union[ref.Mount+"/"+ref.Path] || (i > 0 && got.ReadableSecrets[i-1].Path >= ref.Path) {
			t.Errorf("readable secret %d %+v is not one of %v, or out of order", i, ref, union)
		}
	}
	lookups := h.rec.Count("vault", "POST auth/token/lookup-accessor")
	if lookups*len(subjects) != singleLookups {
		t.Errorf("InventoryMany looked up %d accessors, Inventory per subject %d in all; expected one pass (%d)", lookups, singleLookups, singleLookups/len(subjects))
	}
	if n := h.rec.Count("vault", "LIST auth/token/accessors"); n != 1 {
		t.Errorf("accessors listed %d times, want once", n)
	}
	h.noCanary()
}

func TestInventoryManyErrors(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		name     string
		in       vault.InventoryManyInput
		wantType string
	}{
		{"empty", vault.InventoryManyInput{}, vault.ErrInvalidInput},
		{"twice", vault.InventoryManyInput{Subjects: []string{"alice", "alice"}}, vault.ErrInvalidInput},
		{"bad name", vault.InventoryManyInput{Subjects: []string{"alice", "../sys"}}, vault.ErrInvalidInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var res vault.InventoryManyResult
			err := h.run(h.acts, "InventoryMany", tc.in, &res)
			if err == nil {
				t.Fatalf("InventoryMany(%+v) succeeded; expected a %s error", tc.in, tc.wantType)
			}
			if got := appError(t, err); got.Type() != tc.wantType || !got.NonRetryable() {
				t.Errorf("error type %q (non-retryable %v), want non-retryable %q: %v", got.Type(), got.NonRetryable(), tc.wantType, err)
			}
		})
	}
	h.noCanary()
}

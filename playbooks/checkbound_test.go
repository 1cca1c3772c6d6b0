package playbooks_test

import (
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// TestCheckBound: what BindInputs produces passes, as the workflow decodes it; a raw start
// with a path in a patterned input, a missing required input, or a value of the wrong type is refused.
func TestCheckBound(t *testing.T) {
	p := &playbooks.Plan{Name: "x", Inputs: []playbooks.Input{
		{Name: "subject", Type: "user", Required: true},
		{Name: "source_ip", Type: "string", Pattern: `^[0-9.]+$`},
		{Name: "n", Type: "int"},
		{Name: "users", Type: "list", Pattern: `^[a-z]+$`},
		{Name: "dry", Type: "bool"},
	}}
	bound, err := p.BindInputs(map[string]string{"subject": "<@U1|alice>", "source_ip": "10.0.0.1", "n": "3", "users": "a,b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckBound(bound); err != nil {
		t.Fatalf("bound inputs refused: %v", err)
	}
	decoded := map[string]any{"subject": "alice", "source_ip": "10.0.0.1", "n": float64(3), "users": []any{"a", "b"}, "dry": false}
	if err := p.CheckBound(decoded); err != nil {
		t.Fatalf("decoded inputs refused: %v", err)
	}
	zero, _ := p.BindInputs(map[string]string{"subject": "alice"})
	if err := p.CheckBound(zero); err != nil {
		t.Fatalf("zero values refused: %v", err)
	}
	for name, tc := range map[string]struct {
		edit func(m map[string]any)
		want string
	}{
		"path in a patterned input": {func(m map[string]any) { m["source_ip"] = "../../x" }, "does not match"},
		"missing required":          {func(m map[string]any) { delete(m, "subject") }, "subject is required"},
		"wrong type":                {func(m map[string]any) { m["n"] = "3" }, "whole number"},
		"list element":              {func(m map[string]any) { m["users"] = []any{"a", "../b"} }, "does not match"},
		"unbound user":              {func(m map[string]any) { m["subject"] = "@alice" }, "bound form"},
	} {
		m := map[string]any{}
		for k, v := range decoded {
			m[k] = v
		}
		tc.edit(m)
		if err := p.CheckBound(m); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want a refusal saying %q", name, err, tc.want)
		}
	}
}

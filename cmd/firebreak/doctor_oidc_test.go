package main

import (
	"context"
	"testing"

	"github.com/firebreak-dev/firebreak/activities/preflight"
	"github.com/firebreak-dev/firebreak/service"
	"github.com/firebreak-dev/firebreak/testenv"
)

func TestDoctorOIDCAndEvidence(t *testing.T) {
	idp := testenv.NewOIDC(testenv.DefaultOrg(), nil)
	defer idp.Close()
	t.Setenv("FIREBREAK_STATE_DIR", t.TempDir())
	t.Setenv("FIREBREAK_EVIDENCE_S3", "")
	cases := []struct {
		name, issuer, client string
		status               string
	}{
		{"not configured", "", "", preflight.Skipped},
		{"reachable", idp.URL(), testenv.OIDCClientID, preflight.OK},
		{"no client", idp.URL(), "", preflight.Failed},
		{"no discovery document", idp.URL() + "/nope", testenv.OIDCClientID, preflight.Failed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OIDC_ISSUER", tc.issuer)
			t.Setenv("OIDC_CLIENT_ID", tc.client)
			t.Setenv("OIDC_CLIENT_SECRET", idp.ClientSecret())
			got := service.PreflightOIDC(context.Background(), envSettings().conf(), newDiscardLogger())
			if len(got) != 1 || got[0].Status != tc.status || testenv.ContainsCanary(got[0].Detail) {
				t.Fatalf("%+v, want %s", got, tc.status)
			}
		})
	}
	if got := service.PreflightEvidence(context.Background(), envSettings().conf(), newDiscardLogger()); got[0].Status != preflight.OK {
		t.Fatalf("evidence: %+v", got)
	}
	t.Setenv("FIREBREAK_EVIDENCE_S3", "not-a-url")
	if got := service.PreflightEvidence(context.Background(), envSettings().conf(), newDiscardLogger()); got[0].Status != preflight.Failed {
		t.Fatalf("bad evidence config: %+v", got)
	}
}

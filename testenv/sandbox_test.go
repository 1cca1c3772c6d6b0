package testenv_test

import (
	"testing"

	"github.com/firebreak-dev/firebreak/testenv"
)

func TestSandboxStoresPortalTokensInVault(t *testing.T) {
	s := testenv.NewSandbox(nil)
	defer s.Close()
	for _, d := range s.Org.Developers {
		data, _, ok := s.Vault.Secret(testenv.PortalTokenMount, testenv.PortalTokenPath(d.Name))
		if !ok || data[testenv.PortalTokenField] != testenv.PortalToken(d.Name) {
			t.Errorf("vault %s/%s = %v; expected field %s holding %s's portal token", testenv.PortalTokenMount, testenv.PortalTokenPath(d.Name), data, testenv.PortalTokenField, d.Name)
		}
		if !s.OIDC.Active(testenv.PortalToken(d.Name)) {
			t.Errorf("%s's portal token is not active at the sandbox IdP", d.Name)
		}
	}
	if s.Endpoints()["oidc"] != s.OIDC.URL() {
		t.Errorf("Endpoints() lacks oidc")
	}
}

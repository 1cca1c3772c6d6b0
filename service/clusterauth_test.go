package service_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/firebreak-dev/firebreak/config"
	"github.com/firebreak-dev/firebreak/service"
)

func writeTestCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "firebreak-worker"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	kder, _ := x509.MarshalECPrivateKey(k)
	certFile, keyFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestClusterAuth(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeTestCert(t, dir)
	cases := []struct {
		name    string
		env     map[string]string
		tls     bool
		certs   int
		roots   bool
		apiKey  bool
		errPart string
	}{
		{name: "plain", env: map[string]string{}},
		{name: "mTLS with a CA", env: map[string]string{"TEMPORAL_TLS_CERT": cert, "TEMPORAL_TLS_KEY": key, "TEMPORAL_TLS_CA": cert}, tls: true, certs: 1, roots: true},
		{name: "API key (Temporal Cloud)", env: map[string]string{"TEMPORAL_API_KEY": "k"}, tls: true, apiKey: true},
		{name: "TLS with system roots", env: map[string]string{"TEMPORAL_TLS": "true"}, tls: true},
		{name: "cert without key", env: map[string]string{"TEMPORAL_TLS_CERT": cert}, errPart: "go together"},
		{name: "missing CA file", env: map[string]string{"TEMPORAL_TLS_CA": filepath.Join(dir, "nope.pem")}, errPart: "TEMPORAL_TLS_CA"},
		{name: "CA without certificates", env: map[string]string{"TEMPORAL_TLS_CA": key}, errPart: "expected PEM certificates"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA", "TEMPORAL_TLS", "TEMPORAL_API_KEY", "TEMPORAL_TLS_SERVER_NAME"} {
				t.Setenv(k, tc.env[k])
			}
			var o client.Options
			err := service.ClusterAuth(&config.Settings{Env: os.LookupEnv}, &o)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("err %v, want %q", err, tc.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg := o.ConnectionOptions.TLS
			if (cfg != nil) != tc.tls || (cfg != nil && (len(cfg.Certificates) != tc.certs || (cfg.RootCAs != nil) != tc.roots)) || (o.Credentials != nil) != tc.apiKey {
				t.Fatalf("options: tls=%v creds=%v", cfg, o.Credentials)
			}
		})
	}
}

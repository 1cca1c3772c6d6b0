package main

import (
	"bytes"
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
)

// clientCert writes a self-signed client certificate for cn (and email) and returns its path.
func clientCert(t *testing.T, cn, email string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, EmailAddresses: []string{email},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRequestedByIsCheckedOrClaimed: --requested-by was whatever the caller typed. With a
// Temporal client certificate it must name the certificate's subject; without one the run
// records it as claimed.
func TestRequestedByIsCheckedOrClaimed(t *testing.T) {
	t.Setenv("TEMPORAL_TLS_CERT", "")
	if got, err := requesterAuthOf(envSettings(), "bob"); err != nil || got != "claimed" {
		t.Errorf("without a certificate: %q, %v; want claimed", got, err)
	}
	t.Setenv("TEMPORAL_TLS_CERT", clientCert(t, "alice", "alice@example.test"))
	for _, who := range []string{"alice", "Alice", "alice@example.test"} {
		if got, err := requesterAuthOf(envSettings(), who); err != nil || got != "mtls:alice" {
			t.Errorf("%s with alice's certificate: %q, %v; want mtls:alice", who, got, err)
		}
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "compromised-dev-key", "subject=carol", "--requested-by", "bob"}, &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "client certificate") || !strings.Contains(stderr.String(), "alice") {
		t.Errorf("firebreak run --requested-by bob with alice's certificate: exit %d, %q; want exit %d naming the certificate's subject", code, stderr.String(), exitUsage)
	}
}

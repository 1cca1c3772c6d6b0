package service

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"

	"github.com/firebreak-dev/firebreak/config"
)

// RequesterAuth checks --requested-by against the identity the caller authenticated to
// Temporal with, where there is one: the subject of the client certificate
// (TEMPORAL_TLS_CERT) — its common name, an email address it names, or that address's local
// part. It returns how the requester was established ("mtls:<common name>"), or "claimed"
// when nothing authenticates the caller (no certificate; a Temporal API key carries no
// identity firebreak can read), and a usage error when the certificate is someone else's.
func RequesterAuth(st *config.Settings, requestedBy string) (string, error) {
	certFile := st.Get("TEMPORAL_TLS_CERT")
	if certFile == "" {
		return "claimed", nil
	}
	b, err := os.ReadFile(certFile)
	if err != nil {
		return "", config.Usagef("TEMPORAL_TLS_CERT: %v", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return "", config.Usagef("TEMPORAL_TLS_CERT %s: expected a PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return "", config.Usagef("TEMPORAL_TLS_CERT %s: %v", certFile, err)
	}
	names := []string{cert.Subject.CommonName}
	for _, e := range cert.EmailAddresses {
		local, _, _ := strings.Cut(e, "@")
		names = append(names, e, local)
	}
	who := strings.ToLower(strings.TrimSpace(requestedBy))
	for _, n := range names {
		if n != "" && strings.ToLower(n) == who {
			return "mtls:" + cert.Subject.CommonName, nil
		}
	}
	return "", config.Usagef("--requested-by %q, but your Temporal client certificate (TEMPORAL_TLS_CERT) is %s's: a run is started in the name of who authenticated; leave --requested-by out or give %q", requestedBy, cert.Subject.CommonName, cert.Subject.CommonName)
}

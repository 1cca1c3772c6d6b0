// Package conformance proves the sandbox against the real servers it imitates: the same
// scenarios (finding a person, what Vault says they can read, revoking, disabling,
// verifying; IAM keys, session policies, MFA devices, groups and console logins) run
// against testenv and against a real OpenBao server and moto, and the tests fail where
// the answers differ. It also holds the end-to-end scenario of issue 14: compromised-dev-key
// against OpenBao and moto set up like a real organisation.
//
// Without the real servers the comparisons are skipped, saying so. To run them:
//
//	BAO_BIN=/path/to/bao go test ./conformance   # or ../shared/tools/openbao/bao beside the repo
//	                                             # moto_server on PATH (or MOTO_SERVER)
package conformance

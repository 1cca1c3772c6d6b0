// Package testenv is firebreak's sandbox: loopback HTTP servers that speak the wire protocols
// of Vault, AWS IAM, Slack, PagerDuty, OIDC and S3 well enough that the unmodified vendor SDK
// clients work against them, seeded with a small fictional organisation and recording every
// call.
//
// Each fake is a package of its own and is its protocol and nothing else (vaultfake, iamfake,
// slackfake, pagerdutyfake, oidcfake, s3fake, edgefake, rotationfake); what they share — the
// loopback server, call recording, fault hooks, latency, rate buckets and the canary — is
// fakebase, and the organisation they are seeded with is seed. This package composes them
// into a Sandbox with its faults, rate limits and snapshots, and keeps the names its callers
// use below, so that a test that needs one fake or the whole sandbox imports testenv alone.
//
// Every piece of secret material the sandbox holds or creates contains Canary, so tests can
// scan workflow history, logs and outbound chat for leaks.
package testenv

import (
	"net/http"

	"github.com/firebreak-dev/firebreak/testenv/edgefake"
	"github.com/firebreak-dev/firebreak/testenv/fakebase"
	"github.com/firebreak-dev/firebreak/testenv/iamfake"
	"github.com/firebreak-dev/firebreak/testenv/oidcfake"
	"github.com/firebreak-dev/firebreak/testenv/pagerdutyfake"
	"github.com/firebreak-dev/firebreak/testenv/rotationfake"
	"github.com/firebreak-dev/firebreak/testenv/s3fake"
	"github.com/firebreak-dev/firebreak/testenv/seed"
	"github.com/firebreak-dev/firebreak/testenv/slackfake"
	"github.com/firebreak-dev/firebreak/testenv/vaultfake"
)

// Recording and the canary (fakebase).
const Canary = fakebase.Canary

type (
	Call     = fakebase.Call
	Recorder = fakebase.Recorder
	Rate     = fakebase.Rate
)

// ContainsCanary reports whether s holds the sandbox's canary marker.
func ContainsCanary(s string) bool { return fakebase.ContainsCanary(s) }

// The fictional organisation (seed).
type (
	Org         = seed.Org
	Developer   = seed.Developer
	VaultGroup  = seed.VaultGroup
	VaultToken  = seed.VaultToken
	VaultPolicy = seed.VaultPolicy
	IAMKey      = seed.IAMKey
	Secret      = seed.Secret
	Database    = seed.Database
	StaticRole  = seed.StaticRole
	Channel     = seed.Channel
	Service     = seed.Service
	Incident    = seed.Incident
)

const MassTeamSize = seed.MassTeamSize

// DefaultOrg returns a fresh copy of the seeded organisation "Example Co" (seed.DefaultOrg).
func DefaultOrg() *Org { return seed.DefaultOrg() }

// MassOrg returns an organisation of n developers for load tests (seed.MassOrg).
func MassOrg(n int) *Org { return seed.MassOrg(n) }

// MassDeveloperName is the name of developer i of a MassOrg (seed.MassDeveloperName).
func MassDeveloperName(i int) string { return seed.MassDeveloperName(i) }

// MassDeveloperNames returns the names of a MassOrg's n developers (seed.MassDeveloperNames).
func MassDeveloperNames(n int) []string { return seed.MassDeveloperNames(n) }

// Vault (vaultfake).
type Vault = vaultfake.Vault

const (
	VaultRootToken        = vaultfake.RootToken
	VaultAppRoleID        = vaultfake.AppRoleID
	VaultAppRoleSecretID  = vaultfake.AppRoleSecretID
	VaultK8sRole          = vaultfake.K8sRole
	VaultK8sJWT           = vaultfake.K8sJWT
	VaultTOTPMethodID     = vaultfake.TOTPMethodID
	VaultUserpassAccessor = vaultfake.UserpassAccessor
	BystanderServices     = vaultfake.BystanderServices
)

// NewVault starts a Vault fake seeded from org, recording in rec (vaultfake.New).
func NewVault(org *Org, rec *Recorder) *Vault { return vaultfake.New(org, rec) }

// BystanderAccessor is the accessor of bystander token i (vaultfake.BystanderAccessor).
func BystanderAccessor(i int) string { return vaultfake.BystanderAccessor(i) }

// BystanderService is the entity name of bystander service i (vaultfake.BystanderService).
func BystanderService(i int) string { return vaultfake.BystanderService(i) }

// UserpassPassword is a developer's seeded userpass password (vaultfake.UserpassPassword).
func UserpassPassword(developer string) string { return vaultfake.UserpassPassword(developer) }

// IAM (iamfake).
type IAM = iamfake.IAM

// NewIAM starts an IAM fake seeded from org, recording in rec (iamfake.New).
func NewIAM(org *Org, rec *Recorder) *IAM { return iamfake.New(org, rec) }

// WriteIAMError writes an IAM Query API error response (iamfake.WriteError).
func WriteIAMError(w http.ResponseWriter, code, message string) { iamfake.WriteError(w, code, message) }

// Slack (slackfake).
type (
	Slack         = slackfake.Slack
	SlackMessage  = slackfake.Message
	SlackMetadata = slackfake.Metadata
)

const (
	SlackTeamID    = slackfake.TeamID
	SlackBotUserID = slackfake.BotUserID
	SlackBotID     = slackfake.BotID
)

// NewSlack starts a Slack fake for org, recording in rec (slackfake.New).
func NewSlack(org *Org, rec *Recorder) *Slack { return slackfake.New(org, rec) }

// PagerDuty (pagerdutyfake).
type (
	PagerDuty     = pagerdutyfake.PagerDuty
	PagerDutyNote = pagerdutyfake.Note
)

const (
	PagerDutyEscalationPolicyID = pagerdutyfake.EscalationPolicyID
	PagerDutyScheduleID         = pagerdutyfake.ScheduleID
	PagerDutyManagersPolicyID   = pagerdutyfake.ManagersPolicyID
	PagerDutyBotEmail           = pagerdutyfake.BotEmail
	PagerDutyBotUserID          = pagerdutyfake.BotUserID
)

// NewPagerDuty starts a PagerDuty fake for org, recording in rec (pagerdutyfake.New).
func NewPagerDuty(org *Org, rec *Recorder) *PagerDuty { return pagerdutyfake.New(org, rec) }

// OIDC, the developer portal's identity provider (oidcfake).
type (
	OIDC              = oidcfake.OIDC
	AccessTokenClaims = oidcfake.AccessTokenClaims
)

const (
	OIDCClientID     = oidcfake.ClientID
	OIDCKeyID        = oidcfake.KeyID
	PortalTokenMount = oidcfake.PortalTokenMount
	PortalTokenField = oidcfake.PortalTokenField
)

// NewOIDC starts an OIDC fake with a portal token for each developer of org (oidcfake.New).
func NewOIDC(org *Org, rec *Recorder) *OIDC { return oidcfake.New(org, rec) }

// PortalTokenPath is the KV v2 path of a developer's portal token (oidcfake.PortalTokenPath).
func PortalTokenPath(developer string) string { return oidcfake.PortalTokenPath(developer) }

// PortalToken is the portal token the IdP issued to developer (oidcfake.PortalToken).
func PortalToken(developer string) string { return oidcfake.PortalToken(developer) }

// S3 (s3fake), the edge API (edgefake) and the payments team's rotation service (rotationfake).
type (
	S3            = s3fake.S3
	Edge          = edgefake.Edge
	EdgeRule      = edgefake.EdgeRule
	SecretService = rotationfake.SecretService
)

const SecretServiceName = rotationfake.ServiceName

// NewS3 starts an S3 fake, recording in rec (s3fake.New).
func NewS3(rec *Recorder) *S3 { return s3fake.New(rec) }

// NewEdge starts the edge API fake, recording in rec (edgefake.New).
func NewEdge(rec *Recorder) *Edge { return edgefake.New(rec) }

// NewSecretService starts the rotation service fake with the "stripe" credential
// (rotationfake.New).
func NewSecretService(rec *Recorder, stripeKey string) *SecretService {
	return rotationfake.New(rec, stripeKey)
}

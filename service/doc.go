// Package service is what a running firebreak process is made of besides its flags and its
// output: its connection to Temporal (the payload codec and its key, mTLS or an API key, an
// embedded server when cmd hands it one), the Vault login of a worker, and the production
// worker, every activity bound to the endpoints the settings name.
//
// It takes its configuration as *config.Settings, resolved once by cmd, and reads no flags
// and no environment of its own. It may import config, runs, workflows, playbooks and
// activities/*, the vendors' SDKs and the Temporal SDK; never testenv, drills or
// observability (cmd passes the observer's hook in), and never the Temporal server, which
// the production build (-tags noserver) leaves out.
package service

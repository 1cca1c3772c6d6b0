// Package service is what a running firebreak process is made of besides its flags and its
// output: its connection to Temporal (the payload codec and its key, mTLS or an API key, an
// embedded server when cmd hands it one), the Vault login of a worker, the production
// worker with every activity bound to the endpoints the settings name, the evidence store,
// the front end of serve and dev (StartFront: the chatops server on HTTP and Slack Socket
// Mode, and its shutdown), the codec server's options, the decision and approver keys
// (keys.go), and the configuration file's loading (its vault: references read with that
// login) and doctor's checks of each integration (preflight.go).
//
// It takes its configuration as *config.Settings, resolved once by cmd, and reads no flags
// and no environment of its own (the SDKs' own loaders aside: vaultapi.DefaultConfig,
// awsconfig.LoadDefaultConfig). It may import config, runs, workflows, playbooks,
// activities/*, chatops and codecserver, the vendors' SDKs and the Temporal SDK; never
// testenv, drills or observability (cmd passes the observer's hook in), and never the
// Temporal server, which the production build (-tags noserver) leaves out. Only cmd
// imports it.
package service

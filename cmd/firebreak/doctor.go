package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/activities/preflight"
	"github.com/firebreak-dev/firebreak/config"
	"github.com/firebreak-dev/firebreak/service"
)

func newDoctorCmd() *cobra.Command {
	var (
		asJSON  bool
		skip    []string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that every integration is reachable and permitted, from the worker's configuration",
		Long: `Checks each integration with the same configuration the worker uses and says what is reachable
and permitted:

  config     the configuration file (--config or FIREBREAK_CONFIG) decodes and validates,
             and every secret reference in it resolves (vault: references are read)
  vault      login (VAULT_TOKEN, AppRole or Kubernetes), token lookup-self, and
             sys/capabilities-self on every path of deploy/vault-policy.hcl
  aws        credentials from the default chain; iam:GetUser on FIREBREAK_AWS_PROBE_USER
             (without a probe user the credentials are "unverified": IAM has no harmless
             call that proves them)
  slack      auth.test with SLACK_BOT_TOKEN
  pagerduty  a harmless GET (on-calls) with PAGERDUTY_TOKEN; PAGERDUTY_FROM is set
  temporal   health check of TEMPORAL_ADDRESS (skipped when unset: commands then start an
             embedded server); the payload codec key loads

Exit 0 when nothing failed, 1 when a check failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			st := envSettings() // the file's too, once its check has loaded it
			probes := service.Probes(func() *config.Settings { return st.conf() }, logger)
			names := append([]string{"config"}, preflight.Names(probes)...)
			for _, s := range skip {
				if !slices.Contains(names, s) {
					return usagef("--skip %q: expected %s or %s", s, strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
				}
			}
			ctx := contextOf(cmd)
			var done []preflight.Result
			if !slices.Contains(skip, "config") {
				cctx, cancel := context.WithTimeout(ctx, timeout)
				var l *config.Loaded
				done, l = service.CheckConfig(cctx, configPath(cmd), os.LookupEnv, logger)
				cancel()
				if l != nil {
					st = &settings{lc: &loadedConfig{file: l.File, values: l.Values, warnings: l.Warnings}}
				}
			}
			rep := preflight.Run(ctx, done, probes, skip, timeout)
			if asJSON {
				if err := writeJSONOut(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
			} else {
				rep.WriteText(cmd.OutOrStdout())
			}
			if !rep.Passed {
				return errCheckFailed
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the checks as JSON")
	cmd.Flags().StringSliceVar(&skip, "skip", nil, "integrations not to check (config, vault, aws, slack, pagerduty, temporal, oidc, evidence)")
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Second, "time allowed for each integration")
	return cmd
}

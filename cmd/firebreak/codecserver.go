package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/codecserver"
	"github.com/firebreak-dev/firebreak/service"
	"github.com/firebreak-dev/firebreak/workflows"
)

func newCodecServerCmd() *cobra.Command {
	var listen, corsOrigins string
	var dev, allowEncode bool
	cmd := &cobra.Command{
		Use:   "codec-server",
		Short: "Serve the payload codec to the Temporal Web UI so the people allowed to can read run histories",
		Long: `Serves Temporal's remote codec endpoint (POST …/decode) with firebreak's payload codec, so the
Temporal Web UI (and the temporal CLI's --codec-endpoint) shows decrypted inputs, results and
history of runs. The key is the workers' own: FIREBREAK_CODEC_KEY (with FIREBREAK_CODEC_KEY_ID),
else the key file in the state directory.

Who may decode (codec.server.* in firebreak.yaml, see docs/configuration.md):
  - people signed in to the Web UI: set oidc_issuer and oidc_audience, and in the Web UI turn on
    the codec setting "pass access token" (TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true; the UI passes
    it only to an https endpoint). Tokens are checked for issuer, audience, expiry and signature
    against the issuer's JWKS;
  - or people signed in at an authenticating proxy in front of this server: set
    proxy_user_header (and proxy_groups_header, proxy_trusted), and turn on "include
    cross-origin credentials" (TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true);
  - either way only members of allowed_groups or holders of allowed_emails;
  - scripts: Authorization: Bearer $FIREBREAK_CODEC_SERVER_TOKEN.
Requests must name a namespace it serves (X-Namespace; codec.server.namespaces, default
temporal.namespace). /encode is off unless --allow-encode. Every decode is logged with who read,
the namespace and the runs and steps the payloads name; refusals are logged too.

--dev serves a local Web UI with no sign-in (temporal server start-dev --ui-codec-endpoint
http://127.0.0.1:8888): no credentials, loopback callers and loopback listen addresses only.`,
		Example: `  firebreak codec-server --dev
  FIREBREAK_CODEC_SERVER_OIDC_ISSUER=https://login.example.com FIREBREAK_CODEC_SERVER_OIDC_AUDIENCE=temporal-ui \
  FIREBREAK_CODEC_SERVER_ALLOWED_GROUPS=auditors firebreak codec-server --cors-origin https://temporal.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st := settingsOf(cmd)
			if !cmd.Flags().Changed("listen") {
				if v := st.get("FIREBREAK_CODEC_SERVER_LISTEN"); v != "" {
					listen = v
				}
			}
			if !cmd.Flags().Changed("cors-origin") {
				corsOrigins = st.get("FIREBREAK_CODEC_SERVER_CORS_ORIGINS")
			}
			ctx, stop := signal.NotifyContext(contextOf(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opts, err := codecServerOptions(ctx, st, dev, allowEncode || st.get("FIREBREAK_CODEC_SERVER_ALLOW_ENCODE") == "true", listen, corsOrigins)
			if err != nil {
				return err
			}
			codec, err := loadCodec(st, st.stateDir(), keyExisting)
			if err != nil {
				return err
			}
			opts.Codec = codec.Reader() // shows plaintext payloads as they are; workers refuse them
			level := st.get("FIREBREAK_LOG_LEVEL")
			if level == "" {
				level = "info" // the reads log is the point: info, unless asked otherwise
			}
			logger, err := st.logger(cmd.ErrOrStderr(), level)
			if err != nil {
				return err
			}
			opts.Log = logger
			h, err := codecserver.New(opts)
			if err != nil {
				return usagef("%v", err)
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return usagef("--listen %s: %v", listen, err)
			}
			return serveCodec(ctx, ln, h, codec, opts, cmd)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8888", "address to listen on (codec.server.listen)")
	cmd.Flags().StringVar(&corsOrigins, "cors-origin", "", "comma-separated origins of the Temporal Web UI allowed to call from a browser, e.g. https://temporal.example.com (codec.server.cors_origins)")
	cmd.Flags().BoolVar(&dev, "dev", false, "for a local Web UI without sign-in: no credentials, loopback only")
	cmd.Flags().BoolVar(&allowEncode, "allow-encode", false, "serve /encode too (codec.server.allow_encode)")
	return cmd
}

// codecServerOptions reads codec.server.* into the server's options (service.CodecServerOptions).
func codecServerOptions(ctx context.Context, st *settings, dev, allowEncode bool, listen, corsOrigins string) (codecserver.Options, error) {
	return service.CodecServerOptions(ctx, st.conf(), dev, allowEncode, listen, corsOrigins)
}

// serveCodec prints where the codec server listens and serves it until ctx ends.
func serveCodec(ctx context.Context, ln net.Listener, h http.Handler, codec *workflows.Codec, o codecserver.Options, cmd *cobra.Command) error {
	mode := "signed-in readers"
	if o.Dev {
		mode = "dev mode: no credentials, loopback only"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "codec server on http://%s (key id %s; namespaces %s; %s; /encode %s)\n", ln.Addr(), codec.KeyID(),
		strings.Join(o.Namespaces, ", "), mode, map[bool]string{true: "on", false: "off"}[o.AllowEncode])
	return service.ServeCodec(ctx, ln, h)
}

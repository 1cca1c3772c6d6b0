package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/converter"

	"github.com/firebreak-dev/firebreak/workflows"
)

// maxCodecRequest bounds a codec request body: Temporal payloads are at most a few MiB, and a
// page of history holds a bounded number of them.
const maxCodecRequest = 32 << 20

// codecServerHandler serves Temporal's remote codec protocol (POST …/encode and …/decode with
// a JSON Payloads body) with codec, to callers presenting "Authorization: Bearer <token>".
// When corsOrigin is set, that origin (the Temporal Web UI) may call it from a browser; CORS
// preflight requests pass without the token, as browsers send none on them.
func codecServerHandler(codec converter.PayloadCodec, token, corsOrigin string) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(codec)
	want := sha256.Sum256([]byte("Bearer " + token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if corsOrigin != "" && r.Header.Get("Origin") == corsOrigin {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", corsOrigin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
			h.Set("Vary", "Origin")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		// Compare digests so the comparison takes the same time whatever the length.
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="firebreak-codec"`)
			http.Error(w, "missing or wrong bearer token: expected Authorization: Bearer <FIREBREAK_CODEC_SERVER_TOKEN>", http.StatusUnauthorized)
			return
		}
		if !strings.HasSuffix(r.URL.Path, "/encode") && !strings.HasSuffix(r.URL.Path, "/decode") {
			http.Error(w, "expected POST /encode or /decode", http.StatusNotFound)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxCodecRequest)
		inner.ServeHTTP(w, r)
	})
}

func newCodecServerCmd() *cobra.Command {
	var listen, corsOrigin string
	cmd := &cobra.Command{
		Use:   "codec-server",
		Short: "Serve the payload codec to the Temporal Web UI so authorised users can read run histories",
		Long: `Serves Temporal's remote codec endpoints (POST /encode and /decode) with firebreak's payload
codec, so the Temporal Web UI (and the temporal CLI's --codec-endpoint) can show decrypted
inputs, results and history of runs. The key is the workers' own: FIREBREAK_CODEC_KEY (with
FIREBREAK_CODEC_KEY_ID), else the key file in the state directory.

Every request must carry Authorization: Bearer $FIREBREAK_CODEC_SERVER_TOKEN; the command
refuses to start without that variable. In the Web UI set the codec endpoint to this server
and pass the token (TEMPORAL_CODEC_ENDPOINT, with "include cross-origin credentials"), and set
--cors-origin to the UI's origin so browsers may call it. Anyone with the token can decrypt
every payload: keep it to the people who may read incident records, and serve this behind TLS.`,
		Example: `  FIREBREAK_CODEC_SERVER_TOKEN=$(openssl rand -hex 32) firebreak codec-server --listen 127.0.0.1:8888 --cors-origin http://localhost:8233`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			token := setting("FIREBREAK_CODEC_SERVER_TOKEN")
			if len(token) < 16 {
				return usagef("FIREBREAK_CODEC_SERVER_TOKEN: expected a random bearer token of at least 16 characters, found %d characters", len(token))
			}
			if corsOrigin != "" && (strings.HasSuffix(corsOrigin, "/") || !strings.Contains(corsOrigin, "://")) {
				return usagef("--cors-origin %q: expected an origin such as http://localhost:8233 (scheme and host, no path)", corsOrigin)
			}
			codec, err := loadCodec(defaultStateDir(), keyExisting)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return usagef("--listen %s: %v", listen, err)
			}
			ctx, stop := signal.NotifyContext(contextOf(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serveCodec(ctx, ln, codecServerHandler(codec.Reader(), token, corsOrigin), codec, cmd)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8888", "address to listen on")
	cmd.Flags().StringVar(&corsOrigin, "cors-origin", "", "origin of the Temporal Web UI allowed to call from a browser, e.g. http://localhost:8233")
	return cmd
}

func serveCodec(ctx context.Context, ln net.Listener, h http.Handler, codec *workflows.Codec, cmd *cobra.Command) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
	fmt.Fprintf(cmd.OutOrStdout(), "codec server on http://%s (key id %s)\n", ln.Addr(), codec.KeyID())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

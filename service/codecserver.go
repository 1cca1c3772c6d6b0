package service

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/firebreak-dev/firebreak/codecserver"
	"github.com/firebreak-dev/firebreak/config"
)

// CodecServerOptions reads codec.server.* into the codec server's options (all but the codec
// and the logger). listen and corsOrigins are the command's (--listen, --cors-origin).
func CodecServerOptions(ctx context.Context, st *config.Settings, dev, allowEncode bool, listen, corsOrigins string) (codecserver.Options, error) {
	o := codecserver.Options{Dev: dev, AllowEncode: allowEncode, CORSOrigins: splitComma(corsOrigins)}
	for _, origin := range o.CORSOrigins {
		if err := codecserver.CheckOrigin(origin); err != nil {
			return o, config.Usagef("--cors-origin: %v", err)
		}
	}
	o.Namespaces = splitComma(st.Get("FIREBREAK_CODEC_SERVER_NAMESPACES"))
	if len(o.Namespaces) == 0 {
		o.Namespaces = []string{st.GetOr("TEMPORAL_NAMESPACE", "default")}
	}
	if dev {
		if err := codecserver.CheckDevListen(listen); err != nil {
			return o, config.Usagef("--dev: %v", err)
		}
		return o, nil
	}
	if tok := st.Get("FIREBREAK_CODEC_SERVER_TOKEN"); tok != "" {
		if len(tok) < 16 {
			return o, config.Usagef("FIREBREAK_CODEC_SERVER_TOKEN: expected a random bearer token of at least 16 characters, found %d characters", len(tok))
		}
		o.Token = tok
	}
	o.AllowedGroups = splitComma(st.Get("FIREBREAK_CODEC_SERVER_ALLOWED_GROUPS"))
	o.AllowedEmails = splitComma(st.Get("FIREBREAK_CODEC_SERVER_ALLOWED_EMAILS"))
	if iss := st.Get("FIREBREAK_CODEC_SERVER_OIDC_ISSUER"); iss != "" {
		aud := st.Get("FIREBREAK_CODEC_SERVER_OIDC_AUDIENCE")
		if aud == "" {
			return o, config.Usagef("codec.server.oidc_issuer is set: expected codec.server.oidc_audience (FIREBREAK_CODEC_SERVER_OIDC_AUDIENCE) too, the audience the Web UI's access tokens carry")
		}
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		v, err := codecserver.NewOIDCVerifier(dctx, codecserver.OIDCOptions{Issuer: iss, Audience: aud, GroupsClaim: st.Get("FIREBREAK_CODEC_SERVER_GROUPS_CLAIM")})
		if err != nil {
			return o, err
		}
		o.OIDC = v
	}
	if h := st.Get("FIREBREAK_CODEC_SERVER_PROXY_USER_HEADER"); h != "" {
		p := &codecserver.Proxy{UserHeader: h, GroupsHeader: st.Get("FIREBREAK_CODEC_SERVER_PROXY_GROUPS_HEADER")}
		for _, a := range splitComma(st.Get("FIREBREAK_CODEC_SERVER_PROXY_TRUSTED")) {
			pf, err := netip.ParsePrefix(a)
			if err != nil {
				ip, err2 := netip.ParseAddr(a)
				if err2 != nil {
					return o, config.Usagef("codec.server.proxy_trusted: %q: expected an address or CIDR", a)
				}
				pf = netip.PrefixFrom(ip, ip.BitLen())
			}
			p.Trusted = append(p.Trusted, pf)
		}
		o.Proxy = p
	}
	if o.Token == "" && o.OIDC == nil && o.Proxy == nil {
		return o, config.Usagef("no way to authenticate readers: expected codec.server.oidc_issuer (people signed in to the Web UI), codec.server.proxy_user_header (an authenticating proxy), FIREBREAK_CODEC_SERVER_TOKEN (scripts), or --dev for a local Web UI without sign-in")
	}
	return o, nil
}

func splitComma(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// ServeCodec serves the codec server h on ln until ctx ends, then shuts it down.
func ServeCodec(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
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

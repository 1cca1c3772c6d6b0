// Package chatops is firebreak's inbound side: the HTTP endpoints through which responders
// and alerting reach it. So far: health and readiness. Slack commands and PagerDuty webhooks
// are verified here before anything else is done with them.
package chatops

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
)

// Options configures the HTTP endpoints.
type Options struct {
	// Temporal is checked by /readyz; nil means "not ready".
	Temporal client.Client
	// Info is echoed by /healthz (addresses, task queue); it must hold no secrets.
	Info map[string]string
}

// NewHandler returns the HTTP handler of firebreak's endpoints:
//
//	GET /healthz  200 while the process serves requests
//	GET /readyz   200 when Temporal answers a health check, else 503
func NewHandler(o Options) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		body := map[string]any{"status": "ok"}
		for k, v := range o.Info {
			body[k] = v
		}
		writeJSON(w, http.StatusOK, body)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if o.Temporal == nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "temporal": "no client"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := o.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "temporal": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

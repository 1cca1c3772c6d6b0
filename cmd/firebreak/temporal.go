package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	historypb "go.temporal.io/api/history/v1"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/firebreak-dev/firebreak/testenv/devserver"
	"github.com/firebreak-dev/firebreak/workflows"
)

// temporalConn is a client of either the cluster named by TEMPORAL_ADDRESS or an embedded
// server started for the life of the command.
type temporalConn struct {
	Client   client.Client
	Address  string
	Embedded bool
	// Codec encrypts every payload this connection sends; DecodeEvent uses it to read history.
	Codec  *workflows.Codec
	server *devserver.Server
}

// connectTemporal dials TEMPORAL_ADDRESS (namespace TEMPORAL_NAMESPACE, default "default") when
// it is set, and otherwise starts an in-memory embedded server.
func connectTemporal(ctx context.Context, logger *slog.Logger) (*temporalConn, error) {
	ns := os.Getenv("TEMPORAL_NAMESPACE")
	if ns == "" {
		ns = "default"
	}
	conn := &temporalConn{Address: os.Getenv("TEMPORAL_ADDRESS")}
	// An embedded in-memory server dies with this process, and so may its key; a shared server
	// outlives it, so the key must persist where `firebreak dev` keeps its own.
	codec, err := loadCodec(defaultStateDir(), conn.Address != "")
	if err != nil {
		return nil, err
	}
	conn.Codec = codec
	if conn.Address == "" {
		srv, err := devserver.Start(ctx, devserver.Options{Namespace: ns, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("starting the embedded Temporal server: %w", err)
		}
		conn.server, conn.Address, conn.Embedded = srv, srv.FrontendHostPort(), true
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: conn.Address, Namespace: ns, Logger: tlog.NewStructuredLogger(logger), DataConverter: workflows.DataConverter(codec)})
	if err != nil {
		conn.Close()
		hint := ""
		if !conn.Embedded {
			hint = " (from TEMPORAL_ADDRESS; start `firebreak dev`, or unset it to use an embedded server)"
		}
		return nil, fmt.Errorf("cannot reach Temporal at %s%s: %w", conn.Address, hint, err)
	}
	conn.Client = c
	return conn, nil
}

// Close closes the client and stops the embedded server, if any.
func (c *temporalConn) Close() {
	if c.Client != nil {
		c.Client.Close()
	}
	if c.server != nil {
		_ = c.server.Stop()
	}
}

// DecodeEvents fetches a run's history with every payload decrypted, for the tools that read
// it (leak scans, audit exports). The server itself only ever holds ciphertext.
func (c *temporalConn) DecodeEvents(ctx context.Context, workflowID, runID string) ([]*historypb.HistoryEvent, error) {
	var events []*historypb.HistoryEvent
	it := c.Client.GetWorkflowHistory(ctx, workflowID, runID, false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("reading the history of %s: %w", workflowID, err)
		}
		if err := workflows.DecodeMessage(ctx, c.Codec, ev); err != nil {
			return nil, fmt.Errorf("decoding event %d of %s: %w", ev.GetEventId(), workflowID, err)
		}
		events = append(events, ev)
	}
	return events, nil
}

// loadCodec builds the payload codec from FIREBREAK_CODEC_KEY (base64 of 32 bytes, id from
// FIREBREAK_CODEC_KEY_ID, default "k1"); without it, from the key file codec.key in stateDir,
// created on first use when persist is set; otherwise from a fresh key for this process only.
func loadCodec(stateDir string, persist bool) (*workflows.Codec, error) {
	id := os.Getenv("FIREBREAK_CODEC_KEY_ID")
	if id == "" {
		id = "k1"
	}
	if b64 := os.Getenv("FIREBREAK_CODEC_KEY"); b64 != "" {
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(key) != 32 {
			return nil, usagef("FIREBREAK_CODEC_KEY: expected the base64 encoding of 32 random bytes")
		}
		return workflows.NewCodec(id, map[string][]byte{id: key})
	}
	if !persist {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		return workflows.NewCodec("ephemeral", map[string][]byte{"ephemeral": key})
	}
	path := filepath.Join(stateDir, "codec.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return nil, fmt.Errorf("codec key: %w", err)
		}
		b = []byte(base64.StdEncoding.EncodeToString(key))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("codec key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("codec key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("codec key %s: expected the base64 encoding of 32 bytes", path)
	}
	return workflows.NewCodec(id, map[string][]byte{id: key})
}

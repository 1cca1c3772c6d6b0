package service

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
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

	"github.com/firebreak-dev/firebreak/config"
	"github.com/firebreak-dev/firebreak/runs"
	"github.com/firebreak-dev/firebreak/workflows"
)

// Options are what a command wires into the service besides its settings.
type Options struct {
	Settings *config.Settings
	Logger   *slog.Logger
	// SDKLogger is what the Temporal SDK's clients and workers log through; nil: Logger.
	SDKLogger *slog.Logger
	// Embedded starts a Temporal server inside the process, for a command run without
	// TEMPORAL_ADDRESS; it returns a UsageError when the binary has none (-tags noserver).
	Embedded func(context.Context, EmbeddedOptions) (Server, error)
	// UnreachableHint follows "cannot reach Temporal at ADDR (from TEMPORAL_ADDRESS; …".
	UnreachableHint string
	// Instrument has the clients built record the command's metrics and traces; nil: none.
	Instrument func(*client.Options)
}

// Server is a Temporal server running inside this process.
type Server interface {
	// FrontendHostPort is the host:port clients dial.
	FrontendHostPort() string
	// Namespace is the namespace registered on it.
	Namespace() string
	// Stop stops the server; an in-memory server's state is gone.
	Stop() error
}

// EmbeddedOptions configure an embedded server; zero values are devserver.Options' defaults
// (in memory, 127.0.0.1, a free port, namespace "default", logs discarded).
type EmbeddedOptions struct {
	Namespace    string
	DBFile       string
	IP           string
	FrontendPort int
	Logger       *slog.Logger
}

// Conn is a client of either the cluster named by TEMPORAL_ADDRESS or an embedded server
// started for the life of the command.
type Conn struct {
	Client   client.Client
	Address  string
	Embedded bool
	// Codec encrypts every payload this connection sends; DecodeEvents uses it to read history.
	Codec *workflows.Codec
	// Runs starts, joins, decides, queries, reads and lists runs over Client.
	Runs   *runs.Client
	server Server
}

// Dial dials TEMPORAL_ADDRESS (namespace TEMPORAL_NAMESPACE, default "default") when it is
// set, and otherwise starts an in-memory embedded server with o.Embedded.
func Dial(ctx context.Context, o Options) (*Conn, error) {
	st := o.Settings
	ns := st.GetOr("TEMPORAL_NAMESPACE", "default")
	conn := &Conn{Address: st.Get("TEMPORAL_ADDRESS")}
	// An embedded in-memory server dies with this process, and so may its key; a shared server
	// outlives it and is shared, so its key must be the one everyone else uses.
	src := KeyEphemeral
	if conn.Address != "" {
		src = KeyExisting
	}
	codec, err := LoadCodec(st, st.StateDir(), src)
	if err != nil {
		return nil, err
	}
	// Ciphertexts name the namespace they were written for (workflows.Codec.WithNamespace).
	codec = codec.WithNamespace(ns)
	conn.Codec = codec
	if conn.Address == "" {
		srv, err := o.Embedded(ctx, EmbeddedOptions{Namespace: ns, Logger: o.Logger})
		if errors.As(err, new(config.UsageError)) {
			return nil, err
		} else if err != nil {
			return nil, fmt.Errorf("starting the embedded Temporal server: %w", err)
		}
		conn.server, conn.Address, conn.Embedded = srv, srv.FrontendHostPort(), true
	}
	opts := clientOptions(o, conn.Address, ns, codec)
	if !conn.Embedded {
		if err := ClusterAuth(st, &opts); err != nil {
			conn.Close()
			return nil, err
		}
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		conn.Close()
		hint := ""
		if !conn.Embedded {
			hint = " (from TEMPORAL_ADDRESS; " + o.UnreachableHint + ")"
		}
		return nil, fmt.Errorf("cannot reach Temporal at %s%s: %w", conn.Address, hint, err)
	}
	conn.Client = c
	conn.Runs = runs.New(c, codec)
	return conn, nil
}

// DialServer connects to srv, a server this process runs for longer than the connection
// (firebreak dev's), with the payload key codec.key in stateDir, created on first use.
// Closing the Conn leaves srv running.
func DialServer(ctx context.Context, o Options, srv Server, stateDir string) (*Conn, error) {
	codec, err := LoadCodec(o.Settings, stateDir, KeyCreate)
	if err != nil {
		return nil, err
	}
	codec = codec.WithNamespace(srv.Namespace()) // ciphertexts name their namespace
	conn := &Conn{Address: srv.FrontendHostPort(), Embedded: true, Codec: codec}
	c, err := client.DialContext(ctx, clientOptions(o, conn.Address, srv.Namespace(), codec))
	if err != nil {
		return nil, fmt.Errorf("connecting to the embedded Temporal server: %w", err)
	}
	conn.Client, conn.Runs = c, runs.New(c, codec)
	return conn, nil
}

// clientOptions are the options of a client of address: every payload through codec, the
// command's logger, metrics and traces.
func clientOptions(o Options, address, namespace string, codec *workflows.Codec) client.Options {
	sdkLogger := o.SDKLogger
	if sdkLogger == nil {
		sdkLogger = o.Logger
	}
	opts := client.Options{HostPort: address, Namespace: namespace, Logger: tlog.NewStructuredLogger(sdkLogger), DataConverter: workflows.DataConverter(codec), FailureConverter: workflows.FailureConverter(codec)}
	if o.Instrument != nil {
		o.Instrument(&opts)
	}
	return opts
}

// Close closes the client and stops the embedded server, if any.
func (c *Conn) Close() {
	if c.Client != nil {
		c.Client.Close()
	}
	if c.server != nil {
		_ = c.server.Stop()
	}
}

// DecodeEvents fetches a run's history with every payload decrypted (runs.Client.History).
func (c *Conn) DecodeEvents(ctx context.Context, workflowID, runID string) ([]*historypb.HistoryEvent, error) {
	return c.Runs.History(ctx, workflowID, runID)
}

// KeySource is where a payload key may come from when FIREBREAK_CODEC_KEY is not set.
type KeySource int

const (
	// KeyEphemeral: a fresh key for this process, for an embedded server that dies with it.
	KeyEphemeral KeySource = iota
	// KeyCreate: codec.key in the state dir, created on first use (firebreak dev).
	KeyCreate
	// KeyExisting: codec.key in the state dir if `firebreak dev` made one on this machine;
	// otherwise an error, since everything sharing a Temporal namespace must share one key
	// and a key made up here would silently differ from the workers'.
	KeyExisting
)

// LoadCodec builds the payload codec from FIREBREAK_CODEC_KEY (base64 of 32 bytes, id from
// FIREBREAK_CODEC_KEY_ID, default "k1"), or else as src says.
func LoadCodec(st *config.Settings, stateDir string, src KeySource) (*workflows.Codec, error) {
	id := st.GetOr("FIREBREAK_CODEC_KEY_ID", "k1")
	if b64 := st.Get("FIREBREAK_CODEC_KEY"); b64 != "" {
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(key) != 32 {
			return nil, config.Usagef("FIREBREAK_CODEC_KEY: expected the base64 encoding of 32 random bytes")
		}
		return workflows.NewCodec(id, map[string][]byte{id: key})
	}
	if src == KeyEphemeral {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		return workflows.NewCodec("ephemeral", map[string][]byte{"ephemeral": key})
	}
	path := filepath.Join(stateDir, "codec.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && src == KeyExisting {
		return nil, config.Usagef("no payload key: found no %s in the state directory %s (FIREBREAK_STATE_DIR). Point FIREBREAK_STATE_DIR at the directory `firebreak dev` was started with (its banner prints the export line), or set FIREBREAK_CODEC_KEY to the key your workers use (base64 of 32 bytes); every worker, server and tool on a Temporal namespace must share it", filepath.Base(path), stateDir)
	}
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := PrivateDir(stateDir); err != nil {
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

// ClusterAuth configures TLS and credentials for a cluster or Temporal Cloud from the same
// variables the temporal CLI reads: TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (mTLS client
// certificate, PEM files), TEMPORAL_TLS_CA (a CA bundle to trust), TEMPORAL_TLS_SERVER_NAME,
// TEMPORAL_TLS=true (TLS with the system roots) and TEMPORAL_API_KEY (implies TLS).
func ClusterAuth(st *config.Settings, o *client.Options) error {
	cert, key, ca := st.Get("TEMPORAL_TLS_CERT"), st.Get("TEMPORAL_TLS_KEY"), st.Get("TEMPORAL_TLS_CA")
	apiKey := st.Get("TEMPORAL_API_KEY")
	useTLS := st.Get("TEMPORAL_TLS") == "true" || cert != "" || ca != "" || apiKey != ""
	if !useTLS {
		return nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: st.Get("TEMPORAL_TLS_SERVER_NAME")}
	if (cert == "") != (key == "") {
		return config.Usagef("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both files of the client certificate, or neither")
	}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return config.Usagef("TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %v", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return config.Usagef("TEMPORAL_TLS_CA: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return config.Usagef("TEMPORAL_TLS_CA %s: expected PEM certificates, found none", ca)
		}
		cfg.RootCAs = pool
	}
	o.ConnectionOptions.TLS = cfg
	if apiKey != "" {
		o.Credentials = client.NewAPIKeyStaticCredentials(apiKey)
	}
	return nil
}

// StartServer starts o.Embedded persisted to stateDir/temporal.db, its SQLite files made
// private (SQLite creates them with the umask's mode), for a process serving it for longer
// than one connection (firebreak dev's; DialServer).
func StartServer(ctx context.Context, o Options, stateDir, ip string, port int) (Server, error) {
	db := filepath.Join(stateDir, "temporal.db")
	srv, err := o.Embedded(ctx, EmbeddedOptions{DBFile: db, IP: ip, FrontendPort: port, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	if err := PrivateFiles(db + "*"); err != nil {
		_ = srv.Stop()
		return nil, err
	}
	return srv, nil
}

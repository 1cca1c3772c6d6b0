// Package devserver runs a complete Temporal server (frontend, history,
// matching and worker services) inside the current process, persisted in
// SQLite: in memory for tests, in a file for `firebreak dev`.
//
// It is a small, firebreak-specific version of the server's own temporaltest
// lite server and of the Temporal CLI's `temporal server start-dev`: loopback
// only by default, logs routed to a slog.Logger at Warn and above, static
// membership (no ringpop gossip), no metrics or pprof listeners, and dynamic
// configuration tuned for low task-dispatch latency (see dynconfig.go).
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/metrics"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

const (
	defaultIP        = "127.0.0.1"
	defaultNamespace = "default"
	clusterName      = "active"
	// storeName names the single SQLite data store used for both persistence
	// and visibility.
	storeName = "sqlite-default"
)

// Options configures an embedded server. Zero values are documented defaults.
type Options struct {
	// DBFile is the SQLite file that persists state across restarts. The
	// schema is created the first time (the file must not exist, or be
	// empty) and reused afterwards; its directory must exist. "" keeps
	// everything in memory, discarded by Stop.
	DBFile string
	// IP is the address the frontend listens on. Default "127.0.0.1"; the
	// server never listens on all interfaces unless asked to ("0.0.0.0").
	// The internal history, matching and worker services always listen on
	// 127.0.0.1.
	IP string
	// FrontendPort is the frontend gRPC port. Default 0 picks a free port;
	// `firebreak dev` passes 7233. A port in use makes Start fail with an
	// error wrapping ErrAddressInUse.
	FrontendPort int
	// Namespace is the namespace clients use. Default "default". It is
	// registered if missing, on a fresh database as on an existing one.
	Namespace string
	// Logger receives the server's logs at Warn and above; nil discards
	// them. The server never writes to stdout or stderr.
	Logger *slog.Logger
	// UIPort is accepted for symmetry with `temporal server start-dev` and
	// ignored: the embedded server has no web UI.
	UIPort int

	// stockDynamicConfig disables the dev-mode dynamic configuration, so the
	// benchmarks can measure what it buys. Zero value: tuned.
	stockDynamicConfig bool
}

// Server is a running embedded Temporal server. Create it with Start and
// release it with Stop.
type Server struct {
	server    temporal.Server
	hostPort  string
	namespace string
	logLevel  *slog.LevelVar

	stopOnce sync.Once
	stopErr  error
}

// memoryDBSeq makes in-memory database names unique within the process: the
// SQLite plugin keeps every database it opened in a process-wide pool keyed by
// name, so two servers sharing a name would share their state.
var memoryDBSeq atomic.Int64

// Start configures and starts an embedded Temporal server and returns once its
// frontend accepts requests for the namespace. Several servers may run in one
// process at once (each on its own ports). ctx bounds the start-up; it is not
// used after Start returns.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start temporal dev server: %w", err)
	}
	if opts.IP == "" {
		opts.IP = defaultIP
	}
	if net.ParseIP(opts.IP) == nil {
		return nil, fmt.Errorf("temporal frontend IP %q is not an IP address (expected e.g. 127.0.0.1)", opts.IP)
	}
	if opts.Namespace == "" {
		opts.Namespace = defaultNamespace
	}
	if opts.FrontendPort < 0 || opts.FrontendPort > 65535 {
		return nil, fmt.Errorf("temporal frontend port %d is out of range (expected 0-65535, 0 picks a free port)", opts.FrontendPort)
	}

	logLevel := new(slog.LevelVar)
	logLevel.Set(slog.LevelWarn)
	var handler slog.Handler = discardHandler{}
	if opts.Logger != nil {
		handler = opts.Logger.Handler()
	}
	logger := serverLogger{log: slog.New(levelFilter{min: logLevel, next: handler})}

	// Clients dial the frontend here; internal services dial each other on
	// loopback.
	dialIP := opts.IP
	if ip := net.ParseIP(opts.IP); ip.IsUnspecified() {
		dialIP = defaultIP
	}
	if opts.FrontendPort == 0 {
		p, err := freePort(opts.IP)
		if err != nil {
			return nil, err
		}
		opts.FrontendPort = p
	} else if err := checkPortFree(net.JoinHostPort(opts.IP, strconv.Itoa(opts.FrontendPort))); err != nil {
		return nil, err
	}
	listenAddr := net.JoinHostPort(opts.IP, strconv.Itoa(opts.FrontendPort))
	hostPort := net.JoinHostPort(dialIP, strconv.Itoa(opts.FrontendPort))

	// The frontend's HTTP API (and with it Nexus) gets a free port, as in the
	// CLI's dev server; without one the server warns at every start.
	httpPort, err := freePort(opts.IP)
	if err != nil {
		return nil, err
	}

	ports := map[primitives.ServiceName]int{primitives.FrontendService: opts.FrontendPort}
	for _, svc := range []primitives.ServiceName{primitives.HistoryService, primitives.MatchingService, primitives.WorkerService} {
		p, err := freePort(defaultIP)
		if err != nil {
			return nil, err
		}
		ports[svc] = p
	}

	sqlConf, err := prepareSQLite(opts.DBFile, opts.Namespace)
	if err != nil {
		return nil, err
	}

	conf := serverConfig(opts, sqlConf, ports, httpPort, hostPort)
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("create temporal authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, logger)
	if err != nil {
		return nil, fmt.Errorf("create temporal claim mapper: %w", err)
	}

	staticHosts := make(map[primitives.ServiceName]static.Hosts, len(ports))
	for svc, p := range ports {
		ip := defaultIP
		if svc == primitives.FrontendService {
			ip = dialIP
		}
		staticHosts[svc] = static.SingleLocalHost(net.JoinHostPort(ip, strconv.Itoa(p)))
	}

	dc := dynamicconfig.NewMemoryClient()
	if !opts.stockDynamicConfig {
		applyDevDynamicConfig(dc)
	}

	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(staticHosts),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dc),
		// A no-op handler: no Prometheus listener, no process-wide registry
		// shared between servers.
		temporal.WithCustomMetricsHandler(metrics.NoopMetricsHandler),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
	)
	if err != nil {
		return nil, fmt.Errorf("create temporal dev server: %w", err)
	}
	if err := srv.Start(); err != nil {
		_ = srv.Stop()
		if isAddrInUse(err) {
			return nil, portInUseError(listenAddr, err)
		}
		return nil, fmt.Errorf("start temporal dev server on %s: %w", listenAddr, err)
	}
	s := &Server{server: srv, hostPort: hostPort, namespace: opts.Namespace, logLevel: logLevel}
	if err := ctx.Err(); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("start temporal dev server: %w", err)
	}
	return s, nil
}

// FrontendHostPort returns the host:port clients dial, e.g. "127.0.0.1:7233".
func (s *Server) FrontendHostPort() string { return s.hostPort }

// Namespace returns the namespace registered for clients.
func (s *Server) Namespace() string { return s.namespace }

// Stop shuts the server down and waits for its services to stop. It is safe to
// call more than once; later calls return the first call's result. Warnings the
// server logs while shutting down are suppressed (errors still go through).
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.logLevel.Set(slog.LevelError)
		if err := s.server.Stop(); err != nil {
			s.stopErr = fmt.Errorf("stop temporal dev server: %w", err)
		}
	})
	return s.stopErr
}

// prepareSQLite returns the SQL configuration for dbFile ("" = in memory),
// creating the schema for a new file and registering namespace.
func prepareSQLite(dbFile, namespace string) (*config.SQL, error) {
	conf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if dbFile == "" {
		// The plugin creates the schema when it opens an in-memory database.
		conf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		conf.DatabaseName = fmt.Sprintf("firebreak-dev-%d-%d-%d", os.Getpid(), time.Now().UnixNano(), memoryDBSeq.Add(1))
	} else {
		conf.ConnectAttributes = map[string]string{"mode": "rwc"}
		conf.DatabaseName = dbFile
		fi, err := os.Stat(dbFile)
		switch {
		case errors.Is(err, os.ErrNotExist) || (err == nil && fi.Size() == 0):
			dir := filepath.Dir(dbFile)
			if _, err := os.Stat(dir); err != nil {
				return nil, fmt.Errorf("temporal database file %s: directory %s must exist: %w", dbFile, dir, err)
			}
			if err := sqliteschema.SetupSchema(conf); err != nil {
				return nil, fmt.Errorf("create temporal schema in %s: %w", dbFile, err)
			}
		case err != nil:
			return nil, fmt.Errorf("temporal database file %s: %w", dbFile, err)
		case fi.IsDir():
			return nil, fmt.Errorf("temporal database file %s is a directory, expected a SQLite file", dbFile)
		}
	}

	ns, err := sqliteschema.NewNamespaceConfig(clusterName, namespace, false, nil)
	if err != nil {
		return nil, fmt.Errorf("temporal namespace %q: %w", namespace, err)
	}
	if err := sqliteschema.CreateNamespaces(conf, ns); err != nil {
		return nil, fmt.Errorf("register temporal namespace %q: %w", namespace, err)
	}
	return conf, nil
}

// serverConfig builds the static server configuration: one history shard,
// SQLite for persistence and visibility, archival off.
func serverConfig(opts Options, sqlConf *config.SQL, ports map[primitives.ServiceName]int, httpPort int, hostPort string) *config.Config {
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = defaultIP

	conf.Persistence.DefaultStore = storeName
	conf.Persistence.VisibilityStore = storeName
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{storeName: {SQL: sqlConf}}

	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             hostPort,
				HTTPAddress:            net.JoinHostPort(dialHost(hostPort), strconv.Itoa(httpPort)),
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"

	service := func(svc primitives.ServiceName, ip string) config.Service {
		var s config.Service
		s.RPC.GRPCPort = ports[svc]
		s.RPC.BindOnIP = ip
		return s
	}
	frontend := service(primitives.FrontendService, opts.IP)
	frontend.RPC.HTTPPort = httpPort
	conf.Services = map[string]config.Service{
		string(primitives.FrontendService): frontend,
		string(primitives.HistoryService):  service(primitives.HistoryService, defaultIP),
		string(primitives.MatchingService): service(primitives.MatchingService, defaultIP),
		string(primitives.WorkerService):   service(primitives.WorkerService, defaultIP),
	}

	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	// The server's own SDK clients (system workflows) dial the frontend here.
	conf.PublicClient.HostPort = hostPort
	return &conf
}

// dialHost returns the host part of a host:port built by Start.
func dialHost(hostPort string) string {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return defaultIP
	}
	return host
}

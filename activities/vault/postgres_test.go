package vault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5"

	"github.com/firebreak-dev/firebreak/activities/httpreq"
	"github.com/firebreak-dev/firebreak/activities/vault"
	"github.com/firebreak-dev/firebreak/testenv"
	"github.com/firebreak-dev/firebreak/testenv/realserver"
)

// baoBinary finds a real OpenBao the way every real-server test does (realserver.BaoBinary);
// without one the test is skipped, or fails under FIREBREAK_REAL_SERVERS=required.
func baoBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("real OpenBao skipped in -short mode")
	}
	b, why := realserver.BaoBinary()
	if b == "" {
		realserver.Missing(t, why)
	}
	return b
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// startBao starts `bao server -dev` on a free loopback port and waits until it is healthy.
func startBao(t *testing.T, bin string) (addr, root string) {
	t.Helper()
	hostport := "127.0.0.1:" + freePort(t)
	root = "root-" + testenv.Canary
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "server", "-dev", "-dev-root-token-id="+root, "-dev-listen-address="+hostport)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	addr = "http://" + hostport
	waitFor(t, 90*time.Second, "OpenBao healthy", func() bool {
		resp, err := http.Get(addr + "/v1/sys/health")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, &out)
	return addr, root
}

// waitFor polls ok until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, ok func() bool, out *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; output:\n%s", what, d, out.String())
		}
		<-tick.C
	}
}

// postgres is a throwaway PostgreSQL cluster on 127.0.0.1.
type postgres struct {
	port, superPassword string
}

// startPostgres runs initdb and pg_ctl from $PG_BIN (default /usr/lib/postgresql/15/bin) in a
// temporary directory, as the user nobody when the test runs as root (PostgreSQL refuses
// root), and stops the cluster when the test ends. The test is skipped without the binaries.
func startPostgres(t *testing.T) postgres {
	t.Helper()
	bin := os.Getenv("PG_BIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	if !fileExists(filepath.Join(bin, "initdb")) || !fileExists(filepath.Join(bin, "pg_ctl")) {
		realserver.Missing(t, "no PostgreSQL server binaries in "+bin+": install postgresql-15 (apt-get install -y postgresql-15) or set PG_BIN")
	}
	var prefix []string
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		rb, err := exec.LookPath("runuser")
		if err != nil {
			realserver.Missing(t, "running as root without runuser: PostgreSQL will not run as root")
		}
		prefix = []string{rb, "-u", "nobody", "--"}
	}
	dir, err := os.MkdirTemp("", "firebreak-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	pg := postgres{port: freePort(t), superPassword: "super-" + testenv.Canary}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(pg.superPassword+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	command := func(args ...string) *exec.Cmd {
		all := append(append([]string(nil), prefix...), args...)
		return exec.Command(all[0], all[1:]...)
	}
	run := func(args ...string) {
		t.Helper()
		if out, err := command(args...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=scram-sha-256", "--pwfile="+pwfile, "--no-sync")
	t.Cleanup(func() {
		_ = command(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop").Run()
		_ = os.RemoveAll(dir)
	})
	run(filepath.Join(bin, "pg_ctl"), "-D", data, "-w", "-t", "60", "-l", filepath.Join(dir, "log"),
		"-o", "-c listen_addresses=127.0.0.1 -c port="+pg.port+" -c unix_socket_directories="+dir+" -c fsync=off", "start")
	return pg
}

// login reports whether user logs in with password, by a real connection.
func (pg postgres) login(user, password string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://127.0.0.1:%s/postgres?sslmode=disable", pg.port))
	if err != nil {
		return false
	}
	cfg.User, cfg.Password = user, password // whatever characters Vault's password policy used
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx) == nil
}

func (pg postgres) exec(t *testing.T, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%s/postgres?sslmode=disable", pg.superPassword, pg.port))
	if err != nil {
		t.Fatalf("connecting as postgres: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// rotationBackend is a Vault with a database secrets engine at "database" holding static role
// "payments" (user payments) on connection "payments-pg", and a way to ask the database
// whether a password logs in.
type rotationBackend struct {
	name   string
	client *api.Client
	login  func(user, password string) bool
}

// TestRotationScenarioSandbox runs the rotation scenario against the sandbox Vault.
func TestRotationScenarioSandbox(t *testing.T) {
	v := testenv.NewVault(testenv.DefaultOrg(), &testenv.Recorder{})
	t.Cleanup(v.Close)
	c := baoClient(t, v.URL(), v.RootToken())
	rotationScenario(t, rotationBackend{name: "sandbox", client: c, login: func(u, p string) bool { return v.DatabaseLogin("database", u, p) }})
}

// TestRotationAgainstOpenBaoAndPostgres runs the same scenario against a real OpenBao whose
// database secrets engine manages a real PostgreSQL 15, checking logins with real
// connections, and compares the database endpoints' raw answers with the sandbox's.
func TestRotationAgainstOpenBaoAndPostgres(t *testing.T) {
	bin := baoBinary(t)
	pg := startPostgres(t)
	addr, root := startBao(t, bin)
	c := baoClient(t, addr, root)
	ctx := context.Background()
	pg.exec(t, "CREATE ROLE payments LOGIN PASSWORD 'initial-"+testenv.Canary+"'")
	if err := c.Sys().MountWithContext(ctx, "database", &api.MountInput{Type: "database"}); err != nil {
		t.Fatal(err)
	}
	must := func(_ *api.Secret, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Logical().Write("database/config/payments-pg", map[string]any{
		"plugin_name": "postgresql-database-plugin", "allowed_roles": "*",
		"connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:" + pg.port + "/postgres?sslmode=disable",
		"username":       "postgres", "password": pg.superPassword,
	}))
	must(c.Logical().Write("database/static-roles/payments", map[string]any{"db_name": "payments-pg", "username": "payments", "rotation_period": "24h"}))
	rotationScenario(t, rotationBackend{name: "openbao", client: c, login: pg.login})

	// The database endpoints answer the sandbox as they answer OpenBao.
	sandbox := testenv.NewVault(testenv.DefaultOrg(), &testenv.Recorder{})
	defer sandbox.Close()
	for _, rq := range []struct{ method, path string }{
		{"GET", "database/static-roles/ghost"},
		{"GET", "database/static-creds/ghost"},
		{"POST", "database/rotate-role/ghost"},
		{"GET", "database/config/ghost"},
		{"POST", "database/rotate-root/ghost"},
		{"POST", "database/rotate-role/payments"},
		{"GET", "database/static-roles/payments"},
		{"GET", "database/static-creds/payments"},
		{"GET", "database/config/payments-pg"},
	} {
		b := rawCall(t, addr, root, rq.method, rq.path)
		s := rawCall(t, sandbox.URL(), sandbox.RootToken(), rq.method, rq.path)
		if !reflect.DeepEqual(b, s) {
			t.Errorf("%s %s: OpenBao answered %+v, the sandbox %+v", rq.method, rq.path, b, s)
		}
	}
}

// wireAnswer is what a raw call answered: status, error messages, and the names of the data
// keys (values differ between servers).
type wireAnswer struct {
	Status int
	Errors []string
	Keys   []string
}

func rawCall(t *testing.T, addr, token, method, path string) wireAnswer {
	t.Helper()
	req, _ := http.NewRequest(method, addr+"/v1/"+path, nil)
	req.Header.Set("X-Vault-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m struct {
		Errors []string       `json:"errors"`
		Data   map[string]any `json:"data"`
	}
	_ = json.Unmarshal(body, &m)
	a := wireAnswer{Status: resp.StatusCode, Errors: m.Errors}
	for k := range m.Data {
		a.Keys = append(a.Keys, k)
	}
	if a.Errors == nil {
		a.Errors = []string{}
	}
	slices.Sort(a.Keys)
	return a
}

// rotationScenario marks secrets of every kind on b, plans and rotates them through the
// activities, and checks the result against the systems: the old database password no longer
// logs in and the copy's does, generate changed only its field, manual and unmarked secrets
// are untouched and pending, and each bad mark fails alone.
func rotationScenario(t *testing.T, b rotationBackend) {
	ctx := context.Background()
	c := b.client.Logical()
	creds, err := c.ReadWithContext(ctx, "database/static-creds/payments")
	if err != nil || creds == nil {
		t.Fatalf("%s: reading static-creds/payments: %v", b.name, err)
	}
	oldPassword, _ := creds.Data["password"].(string)
	if !b.login("payments", oldPassword) {
		t.Fatalf("%s: the static role's current password does not log in before rotation", b.name)
	}
	svc := testenv.NewSecretService(nil, "sk_test_"+testenv.Canary+"_old")
	defer svc.Close()
	put := func(path string, data map[string]any, meta map[string]any) {
		t.Helper()
		if _, err := c.WriteWithContext(ctx, "secret/data/"+path, map[string]any{"data": data}); err != nil {
			t.Fatal(err)
		}
		if meta != nil {
			if _, err := c.WriteWithContext(ctx, "secret/metadata/"+path, map[string]any{"custom_metadata": meta}); err != nil {
				t.Fatal(err)
			}
		}
	}
	put("rot/db", map[string]any{"username": "payments", "password": oldPassword, "host": "127.0.0.1", "port": 5432, "tls": false},
		map[string]any{vault.MetaRotate: "database:database/payments", vault.MetaOwner: "payments-team"})
	put("rot/stripe", map[string]any{"api_key": "sk_test_" + testenv.Canary + "_old"}, map[string]any{vault.MetaRotate: "service:payments-admin/rotate/stripe"})
	put("rot/hmac", map[string]any{"hmac_key": "old-" + testenv.Canary, "algorithm": "sha256", "rounds": 3}, map[string]any{vault.MetaRotate: "generate:hmac_key", vault.MetaRotateFormat: "length=40,alphabet=hex"})
	put("rot/deploy", map[string]any{"private_key": "key-" + testenv.Canary}, map[string]any{vault.MetaRotate: "manual", vault.MetaOwner: "carol"})
	put("rot/plain", map[string]any{"password": "plain-" + testenv.Canary}, nil)
	put("rot/ghost", map[string]any{"password": "ghost-" + testenv.Canary}, map[string]any{vault.MetaRotate: "database:database/ghost"})
	put("rot/typo", map[string]any{"password": "typo-" + testenv.Canary}, map[string]any{vault.MetaRotate: "generate:pasword"})
	put("rot/odd", map[string]any{"password": "odd-" + testenv.Canary}, map[string]any{vault.MetaRotate: "shuffle"})

	before := map[string]map[string]any{}
	var refs []vault.SecretRef
	for _, p := range []string{"rot/db", "rot/stripe", "rot/hmac", "rot/deploy", "rot/plain", "rot/ghost", "rot/typo", "rot/odd"} {
		s, err := c.ReadWithContext(ctx, "secret/data/"+p)
		if err != nil || s == nil {
			t.Fatalf("%s: reading %s: %v", b.name, p, err)
		}
		before[p] = s.Data["data"].(map[string]any)
		refs = append(refs, vault.SecretRef{Mount: "secret", Path: p, Version: 1})
	}
	h := &harness{t: t, logs: &lockedBuffer{}}
	acts := &vault.Activities{Client: c, Services: httpreq.Rotator{Services: []httpreq.Service{
		{Name: testenv.SecretServiceName, BaseURL: svc.URL(), Headers: map[string]string{"Authorization": "Bearer " + svc.Token()}},
	}}}

	var plan vault.PlanRotationResult
	if err := h.run(acts, "PlanRotation", vault.PlanRotationInput{Secrets: refs}, &plan); err != nil {
		t.Fatalf("%s: PlanRotation: %v", b.name, err)
	}
	kinds := func(fs []vault.RotationFailure) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Path+" "+f.Kind)
		}
		return out
	}
	wantProblems := []string{"rot/ghost " + vault.ErrNoSuchRole, "rot/typo " + vault.ErrNoSuchField, "rot/odd " + vault.ErrUnknownStrategy}
	if len(plan.Rotatable) != 3 || len(plan.Manual) != 2 || !reflect.DeepEqual(kinds(plan.Problems), wantProblems) {
		t.Fatalf("%s: plan %+v; want 3 rotatable, 2 manual, problems %v", b.name, plan, wantProblems)
	}
	if !b.login("payments", oldPassword) {
		t.Fatalf("%s: PlanRotation changed the database password", b.name)
	}

	var res vault.RotateSecretsResult
	if err := h.run(acts, "RotateSecrets", vault.RotateSecretsInput{Secrets: refs, IdempotencyKey: b.name + "-incident/rotate"}, &res); err != nil {
		t.Fatalf("%s: RotateSecrets: %v", b.name, err)
	}
	if len(res.Rotated) != 3 || len(res.PendingManual) != 2 || !reflect.DeepEqual(kinds(res.Failed), wantProblems) {
		t.Fatalf("%s: result %+v; want 3 rotated, 2 pending, failed %v", b.name, res, wantProblems)
	}
	read := func(p string) map[string]any {
		s, err := c.ReadWithContext(ctx, "secret/data/"+p)
		if err != nil || s == nil {
			t.Fatalf("%s: reading %s: %v", b.name, p, err)
		}
		return s.Data["data"].(map[string]any)
	}
	same := func(a, b map[string]any, except ...string) bool {
		ja, jb := map[string]any{}, map[string]any{}
		for k, v := range a {
			ja[k] = fmt.Sprint(v)
		}
		for k, v := range b {
			jb[k] = fmt.Sprint(v)
		}
		for _, e := range except {
			delete(ja, e)
			delete(jb, e)
		}
		return reflect.DeepEqual(ja, jb)
	}

	db := read("rot/db")
	newPassword, _ := db["password"].(string)
	if b.login("payments", oldPassword) {
		t.Errorf("%s: the old database password still logs in after rotation", b.name)
	}
	if !b.login("payments", newPassword) {
		t.Errorf("%s: the password in the KV copy does not log in", b.name)
	}
	if !same(db, before["rot/db"], "password") {
		t.Errorf("%s: rot/db fields other than password changed", b.name)
	}
	stripe := read("rot/stripe")
	if key, _ := stripe["api_key"].(string); svc.Valid("stripe", "sk_test_"+testenv.Canary+"_old") || !svc.Valid("stripe", key) {
		t.Errorf("%s: the service's old key is still valid or the copy's is not", b.name)
	}
	hmac := read("rot/hmac")
	if !same(hmac, before["rot/hmac"], "hmac_key") || same(hmac, before["rot/hmac"]) || len(fmt.Sprint(hmac["hmac_key"])) != 40 {
		t.Errorf("%s: rot/hmac: only hmac_key must change, to 40 hex characters", b.name)
	}
	for _, p := range []string{"rot/deploy", "rot/plain", "rot/ghost", "rot/typo", "rot/odd"} {
		if !same(read(p), before[p]) {
			t.Errorf("%s: %s changed; want it untouched", b.name, p)
		}
	}
	if res.PendingManual[0].Path != "rot/deploy" || res.PendingManual[0].Owner != "carol" || !res.PendingManual[0].Marked ||
		res.PendingManual[1].Path != "rot/plain" || res.PendingManual[1].Marked {
		t.Errorf("%s: pending %+v; want rot/deploy for carol (marked manual) and rot/plain (unmarked)", b.name, res.PendingManual)
	}
	h.noCanary()
}

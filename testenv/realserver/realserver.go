// Package realserver starts the real servers the sandbox is proven against — OpenBao (a
// Vault server) and moto (an AWS emulator) — on loopback ports for tests, and skips the test
// with a message saying how to run it when they are not installed.
//
// With FIREBREAK_REAL_SERVERS=required (CI), a missing server fails the test instead.
//
// OpenBao is found through BAO_BIN, else ../shared/tools/openbao/bao relative to the
// repository root, else bao on PATH; moto through MOTO_SERVER, else moto_server on PATH.
package realserver

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// T is the part of testing.TB these helpers use.
type T interface {
	Helper()
	Skip(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

var _ T = (testing.TB)(nil)

// BaoBinary returns the path of the OpenBao binary, or "" with why it was not found.
func BaoBinary() (string, string) {
	if p := os.Getenv("BAO_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", "BAO_BIN=" + p + " does not exist"
		}
		return p, ""
	}
	if root := repoRoot(); root != "" {
		p := filepath.Join(root, "..", "shared", "tools", "openbao", "bao")
		if _, err := os.Stat(p); err == nil {
			return p, ""
		}
	}
	if p, err := exec.LookPath("bao"); err == nil {
		return p, ""
	}
	return "", "no OpenBao binary: set BAO_BIN, or put it at ../shared/tools/openbao/bao beside the repository, or bao on PATH"
}

// repoRoot finds the directory holding go.mod above the working directory.
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// OpenBao is a running `bao server -dev`.
type OpenBao struct {
	Addr  string // http://127.0.0.1:PORT
	Root  string // the root token
	cmd   *exec.Cmd
	out   *bytes.Buffer
	stop  func()
	mu    sync.Mutex
	hostp string
}

// StartOpenBao starts an OpenBao dev server on a free loopback port with root token root and
// stops it when the test ends. It skips the test when no binary is found.
func StartOpenBao(t T, root string) *OpenBao {
	t.Helper()
	bin, why := BaoBinary()
	if bin == "" {
		Missing(t, "real OpenBao not available ("+why+"); the comparison against it is skipped")
	}
	b := &OpenBao{Root: root}
	// The port is free when chosen but may be taken by another process before bao binds it
	// (tests run in parallel packages): then choose another, a few times.
	for try := 1; ; try++ {
		b.hostp = freeHostPort(t)
		b.Addr = "http://" + b.hostp
		if b.start(t, bin, try < 4) {
			return b
		}
	}
}

// start starts bao on b.hostp and waits until it is healthy. When it exits because the port
// was taken and retryPort is set, start returns false for the caller to choose another port.
func (b *OpenBao) start(t T, bin string, retryPort bool) bool {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "server", "-dev", "-dev-root-token-id="+b.Root, "-dev-listen-address="+b.hostp)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %s: %v", bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	b.cmd, b.out = cmd, &out
	b.stop = func() { cancel(); <-done }
	t.Cleanup(b.Stop)
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(b.Addr + "/v1/sys/health")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case <-done:
			if retryPort && strings.Contains(out.String(), "address already in use") {
				return false
			}
			t.Fatalf("bao exited before becoming healthy; output:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("bao did not become healthy in 90s; output:\n%s", out.String())
		}
	}
}

// Stop stops the server (a Vault that is down); it is safe to call twice.
func (b *OpenBao) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stop != nil {
		b.stop()
		b.stop = nil
	}
}

// StartMoto starts moto_server on a free loopback port and returns its endpoint; it stops
// when the test ends. It skips the test when moto_server is not installed.
func StartMoto(t T) string {
	t.Helper()
	bin := os.Getenv("MOTO_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("moto_server"); err != nil {
			Missing(t, "moto_server is not on PATH (pip install 'moto[server]', or set MOTO_SERVER); the comparison against moto is skipped")
		}
	}
	hp := freeHostPort(t)
	_, port, _ := net.SplitHostPort(hp)
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", port)
	setProcessGroup(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("moto_server: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting moto_server: %v", err)
	}
	t.Cleanup(func() {
		killGroup(cmd)
		_ = cmd.Wait()
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		announced := false
		for sc.Scan() {
			if !announced && strings.Contains(sc.Text(), "Running on http://127.0.0.1:"+port) {
				announced = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("moto_server did not announce it was listening within 60s")
	}
	return "http://127.0.0.1:" + port
}

func freeHostPort(t T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// Missing skips the test, saying what is missing, or fails it when
// FIREBREAK_REAL_SERVERS=required (as .ci/run sets it), so CI cannot pass on a skip.
func Missing(t T, msg string) {
	t.Helper()
	if os.Getenv("FIREBREAK_REAL_SERVERS") == "required" {
		t.Fatalf("FIREBREAK_REAL_SERVERS=required: %s", msg)
	}
	t.Skip(msg)
}

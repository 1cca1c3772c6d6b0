package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/spf13/cobra"

	"github.com/firebreak-dev/firebreak/codecserver"
	"github.com/firebreak-dev/firebreak/drills"
)

// TestWebUIShowsDecryptedHistory is the auditor's view, in a real browser: the Temporal CLI's
// dev server with its Web UI pointed at `firebreak codec-server --dev`, a firebreak drill run
// against that server, and headless Chromium reading the run's page. The page must show the
// decrypted input (the playbook, its content hash, the subject) and no ciphertext. With the
// codec server down, the same page shows ciphertext, so the check can fail.
//
// It needs FIREBREAK_WEBUI_TEST=1, the Temporal CLI (TEMPORAL_CLI, or temporal on PATH or in
// $GOPATH/bin: go install github.com/temporalio/cli/cmd/temporal@v1.5.1) and Chromium
// (CHROMIUM_BIN, or chromium on PATH: apt-get install chromium).
func TestWebUIShowsDecryptedHistory(t *testing.T) {
	if os.Getenv("FIREBREAK_WEBUI_TEST") != "1" {
		t.Skip("real-browser test of the Temporal Web UI: set FIREBREAK_WEBUI_TEST=1 (needs the temporal CLI and chromium)")
	}
	// With FIREBREAK_REAL_SERVERS=required (CI), a missing binary fails the test.
	skip := t.Skip
	if os.Getenv("FIREBREAK_REAL_SERVERS") == "required" {
		skip = t.Fatal
	}
	temporalBin := findBinary("TEMPORAL_CLI", "temporal")
	if temporalBin == "" {
		skip("no Temporal CLI: set TEMPORAL_CLI or run go install github.com/temporalio/cli/cmd/temporal@v1.5.1")
	}
	chromiumBin := findBinary("CHROMIUM_BIN", "chromium", "chromium-browser", "google-chrome")
	if chromiumBin == "" {
		skip("no Chromium: set CHROMIUM_BIN or apt-get install chromium")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	grpcPort, uiPort, codecAddr := freePort(t), freePort(t), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	dev := exec.CommandContext(ctx, temporalBin, "server", "start-dev", "--ip", "127.0.0.1", "--port", fmt.Sprint(grpcPort),
		"--ui-port", fmt.Sprint(uiPort), "--ui-codec-endpoint", "http://"+codecAddr, "--log-level", "error",
		"--http-port", fmt.Sprint(freePort(t)), "--metrics-port", fmt.Sprint(freePort(t)))
	var devOut bytes.Buffer
	dev.Stdout, dev.Stderr = &devOut, &devOut
	dev.Cancel = func() error { return dev.Process.Signal(os.Interrupt) }
	dev.WaitDelay = 10 * time.Second
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = dev.Wait()
		if t.Failed() {
			t.Logf("temporal server start-dev output:\n%s", devOut.String())
		}
	}()
	uiURL := fmt.Sprintf("http://127.0.0.1:%d", uiPort)
	waitHTTP(t, ctx, uiURL+"/")

	// A drill against the dev server, as `firebreak drill run` with TEMPORAL_ADDRESS.
	t.Setenv("FIREBREAK_STATE_DIR", t.TempDir())
	t.Setenv("FIREBREAK_CODEC_KEY", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	t.Setenv("TEMPORAL_ADDRESS", fmt.Sprintf("127.0.0.1:%d", grpcPort))
	t.Setenv("TEMPORAL_NAMESPACE", "")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"drill", "run", "compromised-dev-key", "--auto-approve", "--json", "--evidence-dir", t.TempDir()}, &stdout, &stderr); code != exitOK {
		t.Fatalf("drill against the dev server: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	var drilled struct{ Drills []drills.Scorecard }
	if err := json.Unmarshal(stdout.Bytes(), &drilled); err != nil || len(drilled.Drills) != 1 {
		t.Fatalf("drill output: %v: %s", err, stdout.String())
	}
	card := drilled.Drills[0]
	page := fmt.Sprintf("%s/namespaces/default/workflows/%s/%s/history", uiURL, url.PathEscape(card.WorkflowID), card.RunID)

	browser := newBrowser(t, ctx, chromiumBin)
	shots := os.Getenv("FIREBREAK_WEBUI_SCREENSHOTS") // a directory to keep the screenshots in, for people to look at

	// Without the codec server the page shows ciphertext: the check below can fail.
	t.Run("codec server down", func(t *testing.T) {
		text := readPage(t, browser, page, encryptedMarker, filepath.Join(shots, "webui-without-codec.png"), shots != "")
		if strings.Contains(text, card.PlaybookSHA256) || !strings.Contains(text, "Codec Server could not connect") {
			t.Errorf("without a codec server the page shows the decrypted playbook hash, or no codec error")
		}
	})

	t.Run("codec server --dev", func(t *testing.T) {
		// The command's own path: options, handler and server as `codec-server --dev` makes them.
		opts, err := codecServerOptions(ctx, envSettings(), true, false, codecAddr, "")
		if err != nil {
			t.Fatal(err)
		}
		codec, err := loadCodec(envSettings(), defaultStateDir(), keyExisting)
		if err != nil {
			t.Fatal(err)
		}
		opts.Codec = codec.Reader() // as codec-server sets it: decodes per X-Namespace
		var logs bytes.Buffer
		opts.Log = slogTo(&logs)
		h, err := codecserver.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", codecAddr)
		if err != nil {
			t.Fatal(err)
		}
		sctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- serveCodec(sctx, ln, h, codec, opts, &cobra.Command{}) }()
		defer func() { stop(); <-done }()

		text := readPage(t, browser, page, card.PlaybookSHA256, filepath.Join(shots, "webui-decoded.png"), shots != "")
		for _, want := range []string{"compromised-dev-key", `"subject"`, "alice", card.PlaybookSHA256} {
			if !strings.Contains(text, want) {
				t.Errorf("the page does not show %q from the decrypted input", want)
			}
		}
		for _, bad := range []string{"binary/encrypted", encryptedMarker, "Codec Server could not connect"} {
			if strings.Contains(text, bad) {
				t.Errorf("the page still shows ciphertext or a codec error (%q)", bad)
			}
		}
		if !strings.Contains(logs.String(), "codec decode") || !strings.Contains(logs.String(), "namespace=default") {
			t.Errorf("the codec server logged no read:\n%s", logs.String())
		}
		if t.Failed() {
			t.Logf("page text:\n%s", text)
		}
	})
}

// encryptedMarker is how the Web UI shows a payload it could not decode: its metadata's
// encoding, base64 of "binary/encrypted".
var encryptedMarker = base64.StdEncoding.EncodeToString([]byte("binary/encrypted"))

func findBinary(env string, names ...string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, n := range names {
			p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", n)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitHTTP waits until u answers, or fails the test at ctx's deadline.
func waitHTTP(t *testing.T, ctx context.Context, u string) {
	t.Helper()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not answer: %v", u, ctx.Err())
		case <-tick.C:
		}
	}
}

// newBrowser starts headless Chromium with a fresh profile and nothing that calls home.
func newBrowser(t *testing.T, ctx context.Context, bin string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.UserDataDir(t.TempDir()), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1400, 1800))
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	return bctx
}

// readPage loads u in a new tab, waits until its text contains want (at most a minute), and
// returns the text; screenshot, when keep is set, is where a picture of the page goes.
func readPage(t *testing.T, browser context.Context, u, want, screenshot string, keep bool) string {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser)
	defer cancel()
	err := chromedp.Do(tab, chromedp.Navigate(u))
	if err == nil {
		wait, cancelW := context.WithTimeout(tab, 90*time.Second)
		_, err = chromedp.Run(wait, chromedp.Poll[bool](fmt.Sprintf(`document.body && document.body.innerText.includes(%q)`, want), chromedp.WithPollingTimeout(time.Minute)))
		cancelW()
	}
	text, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if keep {
		if png, err := chromedp.Run(tab, chromedp.FullScreenshot(100)); err == nil {
			_ = os.WriteFile(screenshot, png, 0o644)
		}
	}
	if err != nil {
		t.Fatalf("%s: %q did not appear: %v\npage text:\n%s", u, want, err, text)
	}
	return text
}

func slogTo(w *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

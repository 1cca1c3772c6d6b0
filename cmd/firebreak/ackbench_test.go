package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/firebreak-dev/firebreak/chatops"
	"github.com/firebreak-dev/firebreak/testenv/devserver"
)

// ackRate is the paced request rate of BenchmarkSlackAckLatency, per second.
const ackRate = 200

// BenchmarkSlackAckLatency measures how long Slack waits for firebreak's acknowledgement: signed
// slash commands sent over real HTTP on loopback to the real handler (chatops.NewServer) at a
// paced 200 requests/s (open loop: a ticker sends each request on time whether or not earlier
// ones have been answered), each timed from send to response. /firebreak run acknowledges and
// then starts the run on Temporal; /revoke-dev answers with a confirmation. With Temporal up
// (an embedded dev server) and with Temporal unreachable (a client dialled to a listener that
// accepts connections and never answers), the acknowledgement must not wait for Temporal.
// b.N is the number of requests; run it with e.g. -benchtime 2000x (10 s each).
func BenchmarkSlackAckLatency(b *testing.B) {
	ctx := context.Background()
	srv, err := devserver.Start(ctx, devserver.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	up, err := client.DialContext(ctx, client.Options{HostPort: srv.FrontendHostPort(), Namespace: srv.Namespace(), Logger: ackBenchLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer up.Close()

	// Temporal unreachable: TCP connections are accepted and then nothing is ever said.
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer hole.Close()
	var held []net.Conn
	var heldMu sync.Mutex
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			heldMu.Lock()
			held = append(held, c)
			heldMu.Unlock()
		}
	}()
	defer func() {
		heldMu.Lock()
		for _, c := range held {
			_ = c.Close()
		}
		heldMu.Unlock()
	}()
	down, err := client.NewLazyClient(client.Options{HostPort: hole.Addr().String(), Logger: ackBenchLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer down.Close()

	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer sink.Close()

	for _, tc := range []struct {
		name string
		c    client.Client
	}{{"temporal-up", up}, {"temporal-unreachable", down}} {
		for _, cmd := range []struct{ name, command, text string }{
			{"firebreak-run", "/firebreak", "run compromised-dev-key subject=alice reason=bench"},
			{"revoke-dev", "/revoke-dev", "<@U0ALICE> key pasted in a gist"},
		} {
			b.Run(tc.name+"/"+cmd.name, func(b *testing.B) {
				benchAck(b, tc.c, sink.URL, cmd.command, cmd.text)
			})
		}
	}
}

func benchAck(b *testing.B, tc client.Client, sinkURL, command, text string) {
	const secret = "bench-signing-secret"
	h, err := chatops.NewServer(chatops.Options{
		Temporal: tc,
		Config: chatops.Config{
			Slack:     chatops.SlackConfig{SigningSecret: secret},
			Directory: []chatops.Person{{Subject: "alice", Email: "alice@example.test", SlackID: "U0ALICE"}, {Subject: "bob", Email: "bob@example.test", SlackID: "U0BOB"}},
			Roles:     map[string]chatops.RoleMembers{"responder": {Users: []string{"U0BOB"}}},
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(h)
	defer func() {
		hs.Close()
		h.Close()
	}()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxIdleConns: 512}}
	body := []byte(url.Values{"command": {command}, "text": {text}, "user_id": {"U0BOB"},
		"channel_id": {"C0SECOPS"}, "response_url": {sinkURL}, "trigger_id": {"bench"}}.Encode())

	lat := make([]time.Duration, b.N)
	errs := make(chan error, b.N)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / ackRate)
	defer tick.Stop()
	b.ResetTimer()
	began := time.Now()
	for i := range b.N {
		<-tick.C
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/slack/commands", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(chatops.SlackSignature(secret, ts, body)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			resp, err := hc.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			lat[i] = time.Since(t0)
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatalf("a request failed: %v", err)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/float64(time.Millisecond), "max-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(0, "ns/op") // wall time per request is set by the pacing, not by firebreak
}

// ackBenchLogger discards the SDK's logs (the unreachable client would log every failed dial).
func ackBenchLogger() tlog.Logger {
	return tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

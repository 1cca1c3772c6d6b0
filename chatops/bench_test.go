package chatops_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/chatops"
)

// BenchmarkSlashCommandAck measures how long a signed slash command takes to be acknowledged,
// with the fake Temporal answering at once and with it hanging (every call blocks until its
// deadline): the acknowledgement must not depend on Temporal. /revoke-dev answers with a
// confirmation; /firebreak run acknowledges and starts after the answer.
func BenchmarkSlashCommandAck(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer sink.Close()
	for _, cmd := range []struct{ name, command, text string }{
		{"revoke-dev", "/revoke-dev", "<@U0ALICE> key pasted in a gist"},
		{"firebreak-run", "/firebreak", "run compromised-dev-key subject=alice reason=bench"},
	} {
		for _, hang := range []bool{false, true} {
			name := cmd.name + "/temporal-fast"
			if hang {
				name = cmd.name + "/temporal-hanging"
			}
			b.Run(name, func(b *testing.B) {
				fake := newFake()
				fake.hang = hang
				cfg := testConfig()
				cfg.Directory = []chatops.Person{{Subject: "alice", Email: "alice@example.test", SlackID: "U0ALICE"}, {Subject: "bob", Email: "bob@example.test", SlackID: "U0BOB"}}
				srv := chatops.NewHandler(chatops.Options{Starter: fake, Config: cfg,
					Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TemporalTimeout: 200 * time.Millisecond})
				defer srv.Close()
				body := []byte(url.Values{"command": {cmd.command}, "text": {cmd.text}, "user_id": {"U0BOB"},
					"channel_id": {"C0SECOPS"}, "response_url": {sink.URL}}.Encode())
				lat := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for range b.N {
					r := httptest.NewRequest(http.MethodPost, "/slack/commands", bytes.NewReader(body))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					signSlack(r, signingSecret, body, time.Now())
					rec := httptest.NewRecorder()
					t0 := time.Now()
					srv.ServeHTTP(rec, r)
					lat = append(lat, time.Since(t0))
					if rec.Code != http.StatusOK {
						b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
					}
				}
				b.StopTimer()
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
				b.ReportMetric(ms(lat[(len(lat)*99)/100]), "p99-ms")
			})
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

package main

import (
	"bytes"
	"strings"
	"testing"
)

// The codec server's behaviour is tested in package codecserver; these tests check the
// command's refusals.

func TestCodecServerNeedsAWayToAuthenticate(t *testing.T) {
	t.Setenv("FIREBREAK_CODEC_SERVER_TOKEN", "")
	t.Setenv("FIREBREAK_CODEC_SERVER_OIDC_ISSUER", "")
	t.Setenv("FIREBREAK_CODEC_SERVER_PROXY_USER_HEADER", "")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"codec-server", "--listen", "127.0.0.1:0"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "oidc_issuer") || !strings.Contains(stderr.String(), "--dev") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

func TestCodecServerRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"dev on every interface", []string{"--dev", "--listen", "0.0.0.0:8888"}, nil, "loopback only"},
		{"dev on a host name", []string{"--dev", "--listen", "temporal.internal:8888"}, nil, "loopback only"},
		{"short token", []string{"--listen", "127.0.0.1:0"}, map[string]string{"FIREBREAK_CODEC_SERVER_TOKEN": "short"}, "at least 16 characters"},
		{"issuer without audience", []string{"--listen", "127.0.0.1:0"}, map[string]string{"FIREBREAK_CODEC_SERVER_OIDC_ISSUER": "https://login.example.com"}, "oidc_audience"},
		{"origin with a path", []string{"--dev", "--cors-origin", "http://localhost:8233/"}, nil, "no path"},
		{"proxy with nobody allowed", []string{"--listen", "127.0.0.1:0"}, map[string]string{"FIREBREAK_CODEC_SERVER_PROXY_USER_HEADER": "X-Forwarded-Email", "FIREBREAK_CODEC_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}, "allowed groups or allowed emails"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			if code := run(append([]string{"codec-server"}, tc.args...), &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d: %s; expected exit %d mentioning %q", code, stderr.String(), exitUsage, tc.want)
			}
		})
	}
}

package main

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestComposeFile checks docker-compose.yml where Docker is absent: the production-shaped
// services are all there, every image is pinned, every published port is bound to loopback,
// and the firebreak service runs a command this binary has.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       any               `yaml:"build"`
			Ports       []string          `yaml:"ports"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, want := range []string{"postgresql", "temporal", "temporal-ui", "vault", "iam", "firebreak"} {
		if _, ok := f.Services[want]; !ok {
			t.Errorf("service %s missing", want)
		}
	}
	for name, s := range f.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("%s: neither image nor build", name)
		}
		if s.Image != "" && (!strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest")) {
			t.Errorf("%s: image %q is not pinned to a version", name, s.Image)
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %q is published beyond loopback", name, p)
			}
		}
	}
	fb := f.Services["firebreak"]
	if fb.Environment["TEMPORAL_ADDRESS"] != "temporal:7233" {
		t.Errorf("firebreak service does not point at the compose Temporal: %v", fb.Environment)
	}
	root := newRoot(nil, nil)
	c, rest, err := root.Find(fb.Command)
	if err == nil && c != root {
		err = c.ParseFlags(rest)
	}
	if err != nil || c == root {
		t.Errorf("firebreak service command %v is not a firebreak command: %v", fb.Command, err)
	}
}

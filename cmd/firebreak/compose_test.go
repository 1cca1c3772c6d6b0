package main

import (
	"os"
	"os/exec"
	"slices"
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
	for _, want := range []string{"postgresql", "temporal", "temporal-ui", "vault", "iam", "firebreak-worker", "firebreak-serve", "firebreak"} {
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
	root := newRoot(nil, nil)
	for _, name := range []string{"firebreak-worker", "firebreak-serve", "firebreak"} {
		fb := f.Services[name]
		env := fb.Environment
		if env["TEMPORAL_ADDRESS"] != "temporal:7233" {
			t.Errorf("%s does not point at the compose Temporal: TEMPORAL_ADDRESS=%q", name, env["TEMPORAL_ADDRESS"])
		}
		// One key for everything attached to the namespace, and never a literal in git.
		if !strings.HasPrefix(env["FIREBREAK_CODEC_KEY"], "${FIREBREAK_CODEC_KEY:?") {
			t.Errorf("%s: FIREBREAK_CODEC_KEY = %q; expected the user's own key, ${FIREBREAK_CODEC_KEY:?…}", name, env["FIREBREAK_CODEC_KEY"])
		}
		c, rest, err := root.Find(fb.Command)
		if err == nil && c != root {
			err = c.ParseFlags(rest)
		}
		if err != nil || c == root {
			t.Errorf("%s: command %v is not a firebreak command: %v", name, fb.Command, err)
		}
	}
	worker := f.Services["firebreak-worker"]
	for k, want := range map[string]string{"VAULT_ADDR": "http://vault:8200", "AWS_ENDPOINT_URL_IAM": "http://iam:5000"} {
		if worker.Environment[k] != want {
			t.Errorf("firebreak-worker: %s = %q; expected %q (the compose %s service)", k, worker.Environment[k], want, strings.Split(strings.TrimPrefix(want, "http://"), ":")[0])
		}
	}
	if len(worker.Command) == 0 || worker.Command[0] != "worker" {
		t.Errorf("firebreak-worker runs %v; expected firebreak worker", worker.Command)
	}
	serve := f.Services["firebreak-serve"]
	_, port, _ := strings.Cut(serve.Environment["FIREBREAK_LISTEN"], ":")
	if len(serve.Command) == 0 || serve.Command[0] != "serve" || port == "" || !slices.ContainsFunc(serve.Ports, func(p string) bool { return strings.HasSuffix(p, ":"+port) }) {
		t.Errorf("firebreak-serve: command %v, FIREBREAK_LISTEN %q, ports %v; expected serve listening on a published port", serve.Command, serve.Environment["FIREBREAK_LISTEN"], serve.Ports)
	}
}

// serverOnlyPackages are import-path prefixes that only the embedded Temporal server brings
// into cmd/firebreak: the server itself, its persistence drivers, membership and cloud
// archivers. A production build (-tags noserver) must contain none of them.
var serverOnlyPackages = []string{
	"go.temporal.io/server/",
	"modernc.org/sqlite",
	"github.com/jackc/pgx",
	"github.com/lib/pq",
	"github.com/go-sql-driver/mysql",
	"github.com/gocql/gocql",
	"github.com/temporalio/ringpop-go",
	"github.com/temporalio/tchannel-go",
	"k8s.io/",
	"cloud.google.com/go/storage",
	"go.uber.org/fx",
}

// TestDockerfile checks the Dockerfile where Docker is absent: a static build of
// ./cmd/firebreak with the noserver tag, copied into a non-root final stage whose entrypoint
// is that binary, and the build tags really do leave the Temporal server out.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages, builds []string
	var user, entrypoint string
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			stages = append(stages, line)
			user, entrypoint = "", "" // each stage starts as root with no entrypoint
		case "RUN":
			if strings.Contains(line, "go build") {
				builds = append(builds, line)
			}
		case "USER":
			user = strings.Join(fields[1:], " ")
		case "ENTRYPOINT":
			entrypoint = strings.Join(fields[1:], " ")
		}
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, expected a build stage and a final stage", len(stages))
	}
	if len(builds) != 1 {
		t.Fatalf("Dockerfile has %d go build lines, expected one: %q", len(builds), builds)
	}
	build := builds[0]
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/firebreak", "-o /out/firebreak"} {
		if !strings.Contains(build, want) {
			t.Errorf("go build line %q lacks %q", build, want)
		}
	}
	tags := ""
	args := strings.Fields(build)
	for i, a := range args {
		if a == "-tags" && i+1 < len(args) {
			tags = args[i+1]
		} else if v, ok := strings.CutPrefix(a, "-tags="); ok {
			tags = v
		}
	}
	if !strings.Contains(","+tags+",", ",noserver,") {
		t.Errorf("go build line %q: expected -tags noserver, found tags %q", build, tags)
	}
	if final := stages[len(stages)-1]; !strings.Contains(final, "nonroot") {
		t.Errorf("final stage %q is not a non-root base image", final)
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") || strings.HasPrefix(user, "root:") {
		t.Errorf("final stage runs as %q, expected a non-root USER", user)
	}
	if !strings.Contains(entrypoint, "/usr/local/bin/firebreak") || !strings.Contains(string(b), "COPY --from=build /out/firebreak /usr/local/bin/firebreak") {
		t.Errorf("final stage does not run the built binary: ENTRYPOINT %s", entrypoint)
	}

	if tags == "" {
		return
	}
	out, err := exec.Command("go", "list", "-deps", "-tags", tags, ".").Output()
	if err != nil {
		t.Fatalf("go list -deps -tags %s: %v", tags, err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 100 {
		t.Fatalf("go list -deps -tags %s listed %d packages; expected the whole of firebreak's", tags, len(deps))
	}
	for _, d := range deps {
		for _, p := range serverOnlyPackages {
			if strings.HasPrefix(d, p) {
				t.Errorf("the image's build (-tags %s) links %s, which only the embedded Temporal server needs", tags, d)
				break
			}
		}
	}
}

package playbooks_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-dev/firebreak/playbooks"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/errors")

// TestGoldenMessages compiles each testdata/errors/*.yaml and compares every rendered
// diagnostic (errors and warnings, with source line and caret) with its .golden file, so a
// change to a message is a reviewed change. Run with -update to rewrite them.
func TestGoldenMessages(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "errors", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.ToSlash(f)
			var got string
			p, err := playbooks.Compile(name, src)
			var ce *playbooks.CompileError
			switch {
			case err == nil:
				var parts []string
				for _, w := range p.Warnings {
					parts = append(parts, w.Render(src))
				}
				got = "compiles with " + strings.Join(parts, "\n")
			case errors.As(err, &ce):
				got = ce.Render()
			default:
				t.Fatalf("not a CompileError: %v", err)
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./playbooks -run TestGoldenMessages -update)", err)
			}
			if got+"\n" != string(want) {
				t.Errorf("messages changed; got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

package playbooks_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// FuzzCompile feeds arbitrary bytes to Compile: it must return a plan or a CompileError,
// never panic, and finish quickly. The seed corpus is the bundled library and the golden
// error inputs.
func FuzzCompile(f *testing.F) {
	srcs, err := playbooks.BundledSources()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range srcs {
		f.Add(s.Src)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "errors", "*.yaml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("name: x\nsteps: [{id: a, action: wait, with: {duration: '${{ [1,2].map(x, x) }}'}}]"))
	f.Fuzz(func(t *testing.T, src []byte) {
		start := time.Now()
		p, err := playbooks.Compile("fuzz.yaml", src)
		if err == nil && p == nil {
			t.Fatal("no plan and no error")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("compile took %s", d)
		}
	})
}

func TestOversizedAndBombsRejected(t *testing.T) {
	big := []byte("name: x\n# " + strings.Repeat("a", playbooks.MaxSourceBytes))
	_, err := playbooks.Compile("big.yaml", big)
	if err == nil || !strings.Contains(err.Error(), "expected at most") {
		t.Fatalf("oversized file: %v", err)
	}
	deep := "name: x\nv: " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n"
	if _, err := playbooks.Compile("deep.yaml", []byte(deep)); err == nil || !strings.Contains(err.Error(), "nest") {
		t.Fatalf("deep nesting: %v", err)
	}
	// A classic billion-laughs document: rejected at the first alias, fast.
	var b strings.Builder
	b.WriteString("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	start := time.Now()
	_, err = playbooks.Compile("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "aliases are not allowed") || time.Since(start) > 2*time.Second {
		t.Fatalf("yaml bomb: %v after %s", err, time.Since(start))
	}
}

// generated returns a playbook of n steps: inventories, one snapshot, and a chain of
// verifications that each need the previous one, so scopes grow along the chain.
func generated(n int) []byte {
	var b strings.Builder
	b.WriteString("name: big\ntitle: Big\nseverity: high\ninputs:\n  subject: {type: string, required: true}\nsteps:\n")
	b.WriteString("  - id: inv\n    action: vault.inventory\n    with: {subject: \"${{ inputs.subject }}\"}\n")
	b.WriteString("  - id: snap\n    action: evidence.snapshot\n    needs: [inv]\n    with: {subject: x, data: {v: \"${{ steps.inv.outputs }}\"}}\n")
	prev := "snap"
	for i := 2; i < n; i++ {
		id := fmt.Sprintf("s%d", i)
		if i%2 == 0 {
			fmt.Fprintf(&b, "  - id: %s\n    action: vault.revoke_tokens\n    needs: [%s]\n    with: {accessors: \"${{ steps.inv.outputs.accessors }}\"}\n", id, prev)
		} else {
			fmt.Fprintf(&b, "  - id: %s\n    action: vault.verify_revoked\n    needs: [%s]\n    if: \"${{ size(steps.%s.outputs.revoked) >= 0 }}\"\n    with: {accessors: \"${{ steps.inv.outputs.accessors }}\", entity_id: \"${{ steps.inv.outputs.entity_id }}\"}\n", id, prev, prev)
		}
		prev = id
	}
	return []byte(b.String())
}

func TestGeneratedPlaybookCompiles(t *testing.T) {
	p, err := playbooks.Compile("big.yaml", generated(200))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) != 200 {
		t.Fatalf("%d steps", len(p.Steps))
	}
}

func BenchmarkCompile1000Steps(b *testing.B) {
	src := generated(1000)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := playbooks.Compile("big.yaml", src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadLibrary is what `firebreak playbook validate` costs for the bundled library
// (target: under 100 ms).
func BenchmarkLoadLibrary(b *testing.B) {
	for b.Loop() {
		if _, err := playbooks.LoadLibrary(""); err != nil {
			b.Fatal(err)
		}
	}
}

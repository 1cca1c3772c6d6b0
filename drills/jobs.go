package drills

import (
	"fmt"
	"os"
	"strings"

	"github.com/firebreak-dev/firebreak/playbooks"
	"github.com/firebreak-dev/firebreak/runs"
)

// Job is one drill to run: a compiled playbook and its bound inputs.
type Job struct {
	Plan   *playbooks.Plan
	Inputs map[string]any
}

// Jobs are the drills of the playbooks names (a name or a file), or of every playbook of lib
// with all, each with raw over its drill schedule's inputs. Every error is the caller's.
func Jobs(lib *playbooks.Library, names []string, all bool, raw map[string]string) ([]Job, error) {
	if all {
		if len(names) > 0 {
			return nil, fmt.Errorf("give playbook names or --all, not both")
		}
		names = lib.Names()
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("which playbook? give a name (known: %s) or --all", strings.Join(lib.Names(), ", "))
	}
	var jobs []Job
	for _, n := range names {
		p, err := lib.Resolve(n)
		if err != nil {
			return nil, err
		}
		// The playbook's drill schedule inputs are defaults.
		bound, err := p.BindInputs(runs.DrillInputs(p, p.DrillInputs(), raw))
		if err != nil {
			return nil, fmt.Errorf("playbook %s: %w", n, err)
		}
		jobs = append(jobs, Job{p, bound})
	}
	return jobs, nil
}

// WriteScorecardFiles writes cards as Markdown to markdownFile and as one HTML page to
// htmlFile, each when named.
func WriteScorecardFiles(cards []Scorecard, markdownFile, htmlFile string) error {
	if markdownFile != "" {
		if err := os.WriteFile(markdownFile, []byte(Markdown(cards)), 0o644); err != nil {
			return fmt.Errorf("--markdown: %w", err)
		}
	}
	if htmlFile != "" {
		var b strings.Builder
		if err := HTML(&b, cards); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
		if err := os.WriteFile(htmlFile, []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
	}
	return nil
}

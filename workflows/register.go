package workflows

import (
	"crypto/ed25519"
	"slices"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/firebreak-dev/firebreak/playbooks"
)

// RunWorkflowName is the name the interpreter workflow is registered under: the name of Run.
const RunWorkflowName = "Run"

// Option configures what the interpreter registered on a worker trusts.
type Option func(*trust)

// trust is the worker's own configuration, handed to the workflow by Register: never read
// from a workflow input or an update, which anyone who reaches Temporal can write.
type trust struct {
	decisionKeys []ed25519.PublicKey
	library      *playbooks.Library
	// approvers decide with their own keys, each only as themselves (approvers.go).
	approvers []Approver
}

// WithLibrary has the workflow run a production plan only if lib — the worker's own
// library, bundled playbooks and its configured playbook directory — compiles exactly that
// plan (playbooks.Library.Verify). Without it the worker runs whatever plan it is given.
func WithLibrary(lib *playbooks.Library) Option {
	return func(t *trust) { t.library = lib }
}

// WithDecisionKeys has the workflow count decisions signed by any of keys (the public halves
// of the front end's decision keys). Without it, the worker counts no decision at all.
func WithDecisionKeys(keys ...ed25519.PublicKey) Option {
	return func(t *trust) { t.decisionKeys = append(t.decisionKeys, keys...) }
}

// decisionKeys are the keys trusted for a run: never the sandbox key outside a drill.
func (t trust) keysFor(drill bool) []ed25519.PublicKey {
	if drill {
		return t.decisionKeys
	}
	sandbox := SandboxDecisionKey().Public().(ed25519.PublicKey)
	return slices.DeleteFunc(slices.Clone(t.decisionKeys), func(k ed25519.PublicKey) bool { return k.Equal(sandbox) })
}

// Register registers the interpreter workflow on a worker, configured by opts. Activities are
// registered by each activities package's own Register.
func Register(r worker.WorkflowRegistry, opts ...Option) {
	var t trust
	for _, o := range opts {
		o(&t)
	}
	r.RegisterWorkflowWithOptions(func(ctx workflow.Context, in RunInput) (RunResult, error) {
		return run(ctx, in, t)
	}, workflow.RegisterOptions{Name: RunWorkflowName})
}

package workflows

import "go.temporal.io/sdk/worker"

// Register registers the interpreter workflow on a worker. Activities are registered by each
// activities package's own Register.
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflow(Run)
}

// Package runs is the client side of a firebreak run, written once: Prepare turns a playbook,
// its inputs and a trigger into the workflow input and the workflow id; Client starts or joins
// runs (one incident, one run), sends people's decisions as Updates, queries a run's status
// and open decisions, reads its decoded history and lists runs. chatops, the command line,
// drills and audit all go through it, so the rules for workflow ids and decisions live here
// and nowhere else.
package runs

import (
	"context"
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/firebreak-dev/firebreak/workflows"
)

// Temporal is the part of the Temporal client that starting, joining, deciding and querying
// runs needs; client.Client satisfies it, tests pass a fake.
type Temporal interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
	QueryWorkflow(ctx context.Context, workflowID, runID, queryType string, args ...any) (converter.EncodedValue, error)
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// historian reads histories and waits for results; client.Client is one.
type historian interface {
	GetWorkflowHistory(ctx context.Context, workflowID, runID string, isLongPoll bool, filterType enumspb.HistoryEventFilterType) client.HistoryEventIterator
}

// lister lists runs from visibility; client.Client is one.
type lister interface {
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
}

// getter finds a run to wait for its result; client.Client is one.
type getter interface {
	GetWorkflow(ctx context.Context, workflowID, runID string) client.WorkflowRun
}

// Client starts, joins, decides, queries, reads and lists runs over one Temporal connection.
type Client struct {
	// Temporal is the connection; a client.Client can do everything, a smaller fake what it
	// implements (History needs GetWorkflowHistory, List ListWorkflow, Wait GetWorkflow).
	Temporal Temporal
	// Codec decrypts payloads for History; nil means the payloads are read as they are.
	Codec *workflows.Codec
	// Signer signs decisions (Decide) with the decision key; nil: this client decides nothing.
	// Only the front end (firebreak serve, dev) and people deciding with firebreak approve
	// hold one.
	Signer *workflows.Signer
	// Now is the clock decisions are signed with; nil means time.Now.
	Now func() time.Time
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// New returns a Client over c with codec for reading history.
func New(c Temporal, codec *workflows.Codec) *Client {
	return &Client{Temporal: c, Codec: codec}
}

// ErrNoTemporal is returned when the Client has no Temporal connection.
var ErrNoTemporal = errors.New("no Temporal client configured")

// ErrNotFound is wrapped by the errors of calls about a run Temporal does not know.
var ErrNotFound = errors.New("no such run")

// IsNotFound reports whether err is Temporal's "not found".
func IsNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf) || errors.Is(err, ErrNotFound)
}

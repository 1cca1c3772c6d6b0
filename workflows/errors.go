package workflows

// Error types of the application errors the interpreter raises: the Type of a
// temporal.ApplicationError, and a failed step's StepResult.ErrorKind. They are recorded in
// histories and compared by callers, so their values never change.
const (
	// ErrRunFailed is the error type of a run that did not contain: its details carry the RunResult.
	ErrRunFailed = "RunFailed"
	// ErrInputTooLarge is the error type of a run refused because its inputs would make its
	// history longer than Temporal allows.
	ErrInputTooLarge = "InputTooLarge"
	// ErrInvalidInput: an input or an expression's value is not what the step takes.
	ErrInvalidInput = "InvalidInput"
	// ErrInvalidPlan: the Plan asks for something the interpreter cannot do (no activity bound
	// to an action, an approval without a rule); recompiling the playbook fixes it.
	ErrInvalidPlan = "InvalidPlan"
	// ErrDrillIsolation: a drill input on the production queue or the reverse, or auto-approval
	// outside a drill.
	ErrDrillIsolation = "DrillIsolation"
	// ErrNoEvidence: a destructive step whose evidence snapshot did not succeed.
	ErrNoEvidence = "NoEvidence"
	// ErrNoApproval is the error type of an irreversible step refused because no granted
	// approval precedes it.
	ErrNoApproval = "NoApproval"
	// ErrNotOnCall: an approver who must be on call is not.
	ErrNotOnCall = "NotOnCall"
	// ErrApprovalTimeout: an approval not granted in time, even after escalation.
	ErrApprovalTimeout = "ApprovalTimeout"
	// ErrApprovalDenied: an approval denied.
	ErrApprovalDenied = "ApprovalDenied"
	// ErrManualStepTimeout: a manual step not confirmed in time.
	ErrManualStepTimeout = "ManualStepTimeout"
	// ErrManualStepDeclined: a manual step its assignee could not do.
	ErrManualStepDeclined = "ManualStepDeclined"
	// ErrAborted: a step cancelled because the run aborted.
	ErrAborted = "Aborted"
)

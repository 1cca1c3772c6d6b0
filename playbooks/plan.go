// Package playbooks owns firebreak's playbook language: the YAML schema, parsing with line and
// column, validation, and compilation to a Plan — plain data that the interpreter workflow runs.
// It never imports the Temporal SDK or a vendor SDK.
package playbooks

import (
	"fmt"
	"time"
)

// CompilerVersion is recorded in every Plan so a run says which compiler produced it.
const CompilerVersion = "firebreak-compiler/1"

// Plan is a compiled playbook: plain data with a stable JSON encoding, the input of the
// interpreter workflow. Steps are in a topological order of their needs.
type Plan struct {
	Name            string        `json:"name"`
	Title           string        `json:"title"`
	Description     string        `json:"description,omitempty"`
	Severity        string        `json:"severity"`
	Version         string        `json:"version,omitempty"`
	SourceFile      string        `json:"source_file"`
	SourceSHA256    string        `json:"source_sha256"`
	CompilerVersion string        `json:"compiler_version"`
	Inputs          []Input       `json:"inputs"`
	Steps           []Step        `json:"steps"`
	Expect          []Expectation `json:"expect,omitempty"`
	Owners          []string      `json:"owners,omitempty"`
}

// Input is a declared playbook input.
type Input struct {
	Name        string `json:"name"`
	Type        string `json:"type"` // string, int, bool, list
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required,omitempty"`
	Default     string `json:"default,omitempty"` // as written; converted by BindInputs
	Pattern     string `json:"pattern,omitempty"`
}

// Step is one compiled step. Every argument is a CEL expression; literals and ${{ }}
// templates in the YAML are compiled into equivalent expressions.
type Step struct {
	ID          string      `json:"id"`
	Name        string      `json:"name,omitempty"`
	Action      string      `json:"action"`
	With        []Arg       `json:"with,omitempty"` // sorted by name
	Needs       []string    `json:"needs,omitempty"`
	If          string      `json:"if,omitempty"` // CEL bool; "" means always
	Retry       RetryPolicy `json:"retry"`
	Timeout     Duration    `json:"timeout"`
	OnFailure   string      `json:"on_failure"` // abort | continue
	Destructive bool        `json:"destructive,omitempty"`
	Contains    bool        `json:"contains,omitempty"` // counts toward time to contain
	Verifies    bool        `json:"verifies,omitempty"` // its outputs.passed must be true
	// Idempotent steps receive an idempotency key from the interpreter, stable across retries.
	Idempotent bool `json:"idempotent,omitempty"`
	// Outputs lists the action's outputs with their types, so a step skipped by its if
	// condition still yields typed empty outputs for the steps and expectations after it.
	Outputs []Output `json:"outputs,omitempty"`
}

// Output is a declared output of a step's action.
type Output struct {
	Name string `json:"name"`
	Type Type   `json:"type"`
}

// Zero returns the empty value of an output's type.
func (o Output) Zero() any {
	switch o.Type {
	case TypeString:
		return ""
	case TypeInt:
		return int64(0)
	case TypeBool:
		return false
	case TypeStringList, TypeMapList:
		return []any{}
	case TypeMap:
		return map[string]any{}
	}
	return nil
}

// Arg is one compiled argument of a step.
type Arg struct {
	Name string `json:"name"`
	Expr string `json:"expr"` // a CEL expression
}

// Expectation is an end-state assertion that a run (a drill in particular) checks at the end.
type Expectation struct {
	Name string `json:"name"`
	That string `json:"that"` // CEL bool over inputs and step outputs
}

// RetryPolicy says how often and how fast a step's action is retried.
type RetryPolicy struct {
	MaxAttempts  int      `json:"max_attempts"`
	Initial      Duration `json:"initial"`
	Backoff      float64  `json:"backoff"`
	MaxInterval  Duration `json:"max_interval"`
	NonRetryable []string `json:"non_retryable,omitempty"` // error types never retried
}

// Failure policies of a step.
const (
	OnFailureAbort    = "abort"
	OnFailureContinue = "continue"
)

// Duration is a time.Duration that encodes in JSON and YAML as a Go duration string ("30s").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration: expected a value like 30s or 5m, found %q", b)
	}
	*d = Duration(v)
	return nil
}

// Step returns the step with the given id, or false.
func (p *Plan) Step(id string) (Step, bool) {
	for _, s := range p.Steps {
		if s.ID == id {
			return s, true
		}
	}
	return Step{}, false
}

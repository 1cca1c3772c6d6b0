package playbooks

import (
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// valueError says why a raw input value was refused, with the nearest allowed value when
// the input has an enum.
type valueError struct {
	msg        string
	suggestion string
}

func (e *valueError) Error() string {
	if e.suggestion != "" {
		return fmt.Sprintf("%s (did you mean %q?)", e.msg, e.suggestion)
	}
	return e.msg
}

var slackMention = regexp.MustCompile(`^<@([A-Z0-9]+)(?:\|([^>]*))?>$`)

// Value converts a raw value (from the CLI, a slash command or a schedule) to the input's
// type, checking its pattern and enum: int → int64, bool → bool, list → []any of strings
// (comma-separated), everything else a string. A user may be written as a Slack mention
// (<@U123|alice> gives alice, <@U123> gives U123) or with a leading @.
func (in Input) Value(raw string) (any, *valueError) {
	v := strings.TrimSpace(raw)
	if in.Type == "user" {
		if m := slackMention.FindStringSubmatch(v); m != nil {
			v = m[1]
			if m[2] != "" {
				v = m[2]
			}
		}
		v = strings.TrimPrefix(v, "@")
	}
	check := func(s string) *valueError {
		if len(in.Enum) > 0 && !slices.Contains(in.Enum, s) {
			return &valueError{msg: fmt.Sprintf("expected one of %s, found %q", strings.Join(in.Enum, ", "), s), suggestion: nearest(s, in.Enum)}
		}
		if in.Pattern != "" {
			re, err := regexp.Compile(in.Pattern)
			if err != nil {
				return &valueError{msg: fmt.Sprintf("the input's pattern %s is invalid: %v", in.Pattern, err)}
			}
			if !re.MatchString(s) {
				return &valueError{msg: fmt.Sprintf("%q does not match the pattern %s", s, in.Pattern)}
			}
		}
		return nil
	}
	switch in.Type {
	case "int":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, &valueError{msg: fmt.Sprintf("expected a whole number, found %q", raw)}
		}
		return n, check(v)
	case "bool":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, &valueError{msg: fmt.Sprintf("expected true or false, found %q", raw)}
		}
		return b, nil
	case "duration":
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, &valueError{msg: fmt.Sprintf("expected a positive duration like 30s, 15m or 2h, found %q", raw)}
		}
		return v, check(v)
	case "email":
		a, err := mail.ParseAddress(v)
		if err != nil || a.Address != v || a.Name != "" {
			return nil, &valueError{msg: fmt.Sprintf("expected an email address like alice@example.com, found %q", raw)}
		}
		return v, check(v)
	case "list":
		items := []any{}
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				if err := check(s); err != nil {
					return nil, err
				}
				items = append(items, s)
			}
		}
		return items, nil
	case "user":
		if v == "" {
			return nil, &valueError{msg: "expected a user name or a Slack mention, found nothing"}
		}
		return v, check(v)
	}
	return v, check(v)
}

func (in Input) zero() any {
	switch in.Type {
	case "int":
		return int64(0)
	case "bool":
		return false
	case "list":
		return []any{}
	}
	return ""
}

// CheckBound checks inputs already bound (a run's input as the workflow received it, numbers
// decoded as float64 and lists as []any) against the plan's declarations, as BindInputs
// checks raw ones: every required one present, each value of its type and matching its
// pattern and enum. An input left at its zero value by BindInputs (not required, no default)
// passes. Inputs the plan does not declare are left alone: no expression of the plan can
// read them (the compiler type-checks against the declarations). The workflow calls it, so a run started straight through
// Temporal, without the command line's or chatops' binding, is held to the same rules.
func (p *Plan) CheckBound(inputs map[string]any) error {
	var errs []string
	for _, in := range p.Inputs {
		v, ok := inputs[in.Name]
		if !ok {
			if in.Required {
				errs = append(errs, fmt.Sprintf("input %s is required", in.Name))
			}
			continue
		}
		if err := in.checkBound(v); err != "" {
			errs = append(errs, fmt.Sprintf("input %s: %s", in.Name, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidInput, strings.Join(errs, "; "))
	}
	return nil
}

// checkBound says what is wrong with the bound value v of in, or "".
func (in Input) checkBound(v any) string {
	one := func(s string) string {
		got, verr := in.Value(s)
		if verr != nil {
			return verr.Error()
		}
		if g, isStr := got.(string); isStr && g != s {
			return fmt.Sprintf("%q is not in its bound form (%q)", s, g)
		}
		return ""
	}
	zeroOK := !in.Required && in.Default == ""
	switch in.Type {
	case "int":
		var n int64
		switch x := v.(type) {
		case float64:
			if x != float64(int64(x)) {
				return fmt.Sprintf("expected a whole number, found %v", x)
			}
			n = int64(x)
		case int64:
			n = x
		case int:
			n = int64(x)
		default:
			return fmt.Sprintf("expected a whole number, found %T", v)
		}
		if n == 0 && zeroOK {
			return ""
		}
		return one(strconv.FormatInt(n, 10))
	case "bool":
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("expected true or false, found %T", v)
		}
		return ""
	case "list":
		var items []string
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return fmt.Sprintf("expected a list of strings, found an element of type %T", e)
				}
				items = append(items, s)
			}
		case []string:
			items = x
		default:
			return fmt.Sprintf("expected a list, found %T", v)
		}
		for _, s := range items {
			if strings.TrimSpace(s) != s || s == "" || strings.Contains(s, ",") {
				return fmt.Sprintf("list element %q is not one bound element", s)
			}
			if err := one(s); err != "" {
				return err
			}
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Sprintf("expected a string, found %T", v)
	}
	if s == "" && zeroOK {
		return ""
	}
	return one(s)
}

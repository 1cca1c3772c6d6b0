package playbooks

import (
	"encoding/json"
)

// exprPattern matches a value that is one ${{ }} expression.
const exprPattern = `^\s*\$\{\{[\s\S]*\}\}\s*$`

// JSONSchema returns a JSON Schema (draft-07, as yaml-language-server reads it) for playbook
// files, generated from the language's keys and the action catalog: each action's with:
// lists exactly its arguments, with their types.
func JSONSchema() ([]byte, error) {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	strList := func(desc string) map[string]any {
		return map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "description": desc}
	}
	expr := map[string]any{"type": "string", "pattern": exprPattern}
	duration := map[string]any{"type": "string", "pattern": `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`}
	obj := func(props map[string]any, required ...string) map[string]any {
		o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			o["required"] = required
		}
		return o
	}
	argSchema := func(p Param) map[string]any {
		var base map[string]any
		switch p.Type {
		case TypeString:
			return map[string]any{"type": "string", "description": p.Doc}
		case TypeInt:
			base = map[string]any{"type": "integer"}
		case TypeBool:
			base = map[string]any{"type": "boolean"}
		case TypeStringList:
			base = map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
		case TypeIntList:
			base = map[string]any{"type": "array", "items": map[string]any{"type": "integer"}}
		case TypeMapList:
			base = map[string]any{"type": "array", "items": map[string]any{"type": "object"}}
		case TypeMap:
			base = map[string]any{"type": "object"}
		default:
			return map[string]any{"description": p.Doc}
		}
		return map[string]any{"description": p.Doc, "anyOf": []any{base, expr}}
	}

	var actions []string
	var perAction []any
	for _, a := range Catalog() {
		actions = append(actions, a.Name)
		props := map[string]any{}
		var required []string
		for _, p := range a.Args {
			if p.Internal {
				continue
			}
			props[p.Name] = argSchema(p)
			if p.Required {
				required = append(required, p.Name)
			}
		}
		with := obj(props, required...)
		then := map[string]any{"properties": map[string]any{"with": with}}
		if len(required) > 0 {
			then["required"] = []string{"with"}
		}
		perAction = append(perAction, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"action": map[string]any{"const": a.Name}}, "required": []string{"action"}},
			"then": then,
		})
	}

	input := obj(map[string]any{
		"type":        map[string]any{"enum": keys(inputTypes)},
		"description": str("what the input is"),
		"required":    map[string]any{"type": "boolean"},
		"default":     map[string]any{"type": []string{"string", "number", "boolean"}},
		"pattern":     str("a regular expression the value must match"),
		"enum":        strList("the allowed values"),
	})
	approval := obj(map[string]any{
		"count":      map[string]any{"type": "integer", "minimum": 1, "maximum": 10},
		"roles":      strList("roles that may approve"),
		"timeout":    duration,
		"on_timeout": map[string]any{"enum": onTimeoutNames},
		"on_call":    map[string]any{"type": "boolean", "description": "each approver must be on call in PagerDuty for the run's incident"},
		"two_person": map[string]any{"type": "boolean", "description": "false opts out of the default second-person approval before irreversible steps (the compiler warns)"},
	})
	step := obj(map[string]any{
		"id":          map[string]any{"type": "string", "pattern": identPattern.String()},
		"name":        str("what the step does, for people"),
		"action":      map[string]any{"enum": actions, "description": "an action from the catalog (`firebreak actions`)"},
		"with":        map[string]any{"type": "object"},
		"needs":       map[string]any{"anyOf": []any{map[string]any{"type": "string"}, strList("")}},
		"if":          expr,
		"foreach":     expr,
		"concurrency": map[string]any{"type": "integer", "minimum": 1, "maximum": 100},
		"retry": obj(map[string]any{
			"attempts": map[string]any{"type": "integer", "minimum": 1, "maximum": 100}, "interval": duration, "max_interval": duration,
			"backoff": map[string]any{"type": "number", "minimum": 1}, "non_retryable": strList("error types never retried"),
			"for": duration,
		}),
		"timeout":    duration,
		"on_failure": map[string]any{"enum": onFailures},
		"compensate": obj(map[string]any{"action": map[string]any{"enum": actionNames(false)}, "with": map[string]any{"type": "object"}}, "action"),
	}, "id", "action")
	step["allOf"] = perAction

	schema := obj(map[string]any{
		"name":        map[string]any{"type": "string", "pattern": namePattern.String()},
		"title":       str("a one-line title"),
		"description": str("what the playbook does"),
		"severity":    map[string]any{"enum": severities},
		"version":     map[string]any{"type": []string{"string", "number"}},
		"owners":      strList("teams that own the playbook"),
		"inputs":      map[string]any{"type": "object", "additionalProperties": input, "propertyNames": map[string]any{"pattern": identPattern.String()}},
		"roles":       obj(map[string]any{"start": strList("roles that may start it"), "approve": strList("roles that may approve")}),
		"approval":    approval,
		"triggers": obj(map[string]any{
			"slash": obj(map[string]any{"command": map[string]any{"type": "string", "pattern": slashPattern.String()}, "args": strList("inputs, in order; the last takes the rest")}, "command"),
			"pagerduty": map[string]any{"type": "array", "items": obj(map[string]any{
				"service": str("PagerDuty service id"), "priority": map[string]any{"type": "string", "pattern": priorityPat.String()},
				"urgency": map[string]any{"enum": urgencies}, "condition": expr, "inputs": map[string]any{"type": "object"},
			})},
			"schedule": map[string]any{"type": "array", "items": obj(map[string]any{"cron": str("five-field cron, UTC"), "inputs": map[string]any{"type": "object"}}, "cron")},
		}),
		"steps":   map[string]any{"type": "array", "minItems": 1, "items": step},
		"outputs": map[string]any{"type": "object"},
		"notify": map[string]any{"type": "array", "items": obj(map[string]any{
			"name": str("template name"), "on": map[string]any{"anyOf": []any{map[string]any{"enum": notifyEvents}, map[string]any{"type": "array", "items": map[string]any{"enum": notifyEvents}}}},
			"audience": str("who it is for"), "text": str("message; ${{ }} expressions allowed"),
		}, "name", "on", "text")},
		"expect": map[string]any{"type": "array", "items": obj(map[string]any{"name": str("what must hold"), "that": expr}, "name", "that")},
	}, "name", "title", "severity", "steps")
	schema["$schema"] = "http://json-schema.org/draft-07/schema#"
	schema["$id"] = "https://firebreak.dev/schema/playbook.json"
	schema["title"] = "firebreak playbook"
	return json.MarshalIndent(schema, "", "  ")
}

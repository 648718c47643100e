package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A Rule says what a change to the files it matches does, for what the
// build graph cannot know (watch.rules).
type Rule struct {
	Paths  []string // globs relative to the project directory; ** for any depth
	Action string   // restart, ignore, rebuild or reload
}

// A Step is a command run before the build when a change matches it, and
// once at start (build.steps): a generator such as templ generate.
type Step struct {
	Name string   // for the log; default the command's first word
	Run  []string // the command, run without a shell unless it names one
	On   []string // globs of the files whose changes need it
}

// RuleActions are the actions a rule may name.
var RuleActions = []string{"restart", "ignore", "rebuild", "reload"}

// parseRules reads watch.rules: in devrun.yaml a list of mappings
// {paths: [GLOB...], action: ACTION}; in a flag or DEVRUN_WATCH_RULES,
// words GLOB=ACTION.
func parseRules(raw any) ([]Rule, error) {
	switch v := raw.(type) {
	case nil:
		return []Rule{}, nil
	case []Rule:
		return v, nil
	case string:
		words, err := splitWords(v)
		if err != nil {
			return nil, err
		}
		rules := []Rule{}
		for _, w := range words {
			glob, action, ok := strings.Cut(w, "=")
			if !ok || glob == "" {
				return nil, fmt.Errorf("%q is not GLOB=ACTION, such as 'templates/**=restart'", w)
			}
			rules = append(rules, Rule{Paths: []string{glob}, Action: action})
		}
		return rules, checkRules(rules)
	case []any:
		rules := make([]Rule, 0, len(v))
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("item %d must be a mapping such as {paths: [\"templates/**\"], action: restart}, not %s %v", i+1, typeName(e), e)
			}
			var r Rule
			for name, val := range m {
				var err error
				switch name {
				case "paths", "path":
					r.Paths, err = parseList(val)
				case "action":
					r.Action, err = parseString(val)
				default:
					err = fmt.Errorf("unknown field %q (a rule has paths and action)", name)
				}
				if err != nil {
					return nil, fmt.Errorf("item %d: %s: %w", i+1, name, err)
				}
			}
			rules = append(rules, r)
		}
		if err := checkRules(rules); err != nil {
			return nil, err
		}
		return rules, nil
	}
	return nil, fmt.Errorf("must be a list of rules such as {paths: [\"templates/**\"], action: restart}, not %s %v", typeName(raw), raw)
}

func checkRules(rules []Rule) error {
	for i, r := range rules {
		if len(r.Paths) == 0 {
			return fmt.Errorf("item %d: paths must name at least one glob", i+1)
		}
		if msg := globList(r.Paths); msg != "" {
			return fmt.Errorf("item %d: paths: %s", i+1, msg)
		}
		if !slices.Contains(RuleActions, r.Action) {
			return fmt.Errorf("item %d: action must be one of %s, not %q", i+1, strings.Join(RuleActions, ", "), r.Action)
		}
	}
	return nil
}

// parseSteps reads build.steps, which only devrun.yaml can hold: a list of
// mappings {name: NAME, run: [ARGV...], on: [GLOB...]}.
func parseSteps(raw any) ([]Step, error) {
	switch v := raw.(type) {
	case nil:
		return []Step{}, nil
	case []Step:
		return v, nil
	case string:
		if strings.TrimSpace(v) == "" {
			return []Step{}, nil
		}
		return nil, errors.New("can only be set in devrun.yaml, as a list of {name, run, on}")
	case []any:
		steps := make([]Step, 0, len(v))
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("item %d must be a mapping such as {run: [templ, generate], on: [\"**/*.templ\"]}, not %s %v", i+1, typeName(e), e)
			}
			var s Step
			for name, val := range m {
				var err error
				switch name {
				case "name":
					s.Name, err = parseString(val)
				case "run":
					s.Run, err = parseList(val)
				case "on":
					s.On, err = parseList(val)
				default:
					err = fmt.Errorf("unknown field %q (a step has name, run and on)", name)
				}
				if err != nil {
					return nil, fmt.Errorf("item %d: %s: %w", i+1, name, err)
				}
			}
			switch {
			case len(s.Run) == 0:
				return nil, fmt.Errorf("item %d: run must name a command, such as [templ, generate]", i+1)
			case len(s.On) == 0:
				return nil, fmt.Errorf("item %d: on must name at least one glob of the files the step reads", i+1)
			}
			if msg := globList(s.On); msg != "" {
				return nil, fmt.Errorf("item %d: on: %s", i+1, msg)
			}
			if s.Name == "" {
				s.Name = s.Run[0]
			}
			steps = append(steps, s)
		}
		return steps, nil
	}
	return nil, fmt.Errorf("must be a list of steps such as {run: [templ, generate], on: [\"**/*.templ\"]}, not %s %v", typeName(raw), raw)
}

func formatRules(rules []Rule) string {
	if len(rules) == 0 {
		return "[]"
	}
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = fmt.Sprintf("%s: %s", strings.Join(r.Paths, ", "), r.Action)
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func formatSteps(steps []Step) string {
	if len(steps) == 0 {
		return "[]"
	}
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = fmt.Sprintf("%s: %q on %s", s.Name, s.Run, strings.Join(s.On, ", "))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

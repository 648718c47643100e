package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// set converts raw, a value from YAML, the environment or a flag, to the key's
// type and stores it in c.
func (k key) set(c *Config, raw any) error {
	val, err := k.parse(raw)
	if err != nil {
		return err
	}
	if k.check != nil {
		if msg := k.check(val); msg != "" {
			return errors.New(msg)
		}
	}
	switch p := k.field(c).(type) {
	case *string:
		*p = val.(string)
	case *[]string:
		*p = val.([]string)
	case *time.Duration:
		*p = val.(time.Duration)
	case *bool:
		*p = val.(bool)
	}
	return nil
}

func (k key) parse(raw any) (any, error) {
	switch k.kind {
	case kString:
		return parseString(raw)
	case kList:
		return parseList(raw)
	case kDuration:
		return parseDuration(raw)
	case kBool:
		return parseBool(raw)
	case kEnum:
		return parseEnum(raw, k.allowed)
	case kPort:
		if n, ok := raw.(int); ok {
			return strconv.Itoa(n), nil
		}
		return parseString(raw)
	}
	return nil, fmt.Errorf("unknown kind %d", k.kind)
}

func parseString(raw any) (string, error) {
	switch v := raw.(type) {
	case string:
		return v, nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("must be a string, not %s %v (quote it)", typeName(raw), raw)
}

// parseList accepts a YAML list of strings, or a string split into words as a
// shell would, without running one: quotes keep spaces, a backslash escapes.
func parseList(raw any) ([]string, error) {
	switch v := raw.(type) {
	case nil:
		return []string{}, nil
	case []string:
		return v, nil
	case string:
		return splitWords(v)
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("item %d must be a string, not %s %v (quote it)", i+1, typeName(e), e)
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("must be a list of strings, not %s %v", typeName(raw), raw)
}

func parseDuration(raw any) (time.Duration, error) {
	switch v := raw.(type) {
	case time.Duration:
		return v, nil
	case nil:
		return 0, errors.New("must be a duration such as 250ms, 5s or 1m, not empty")
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return 0, fmt.Errorf("must be a duration such as 250ms, 5s or 1m, not %q", v)
		}
		return d, nil
	case int, int64, float64:
		return 0, fmt.Errorf("must be a duration with a unit, such as %vms or %vs, not the bare number %v", v, v, v)
	}
	return 0, fmt.Errorf("must be a duration such as 250ms, 5s or 1m, not %s %v", typeName(raw), raw)
}

func parseBool(raw any) (bool, error) {
	switch v := raw.(type) {
	case bool:
		return v, nil
	case nil:
		return false, errors.New("must be true or false, not empty")
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return false, fmt.Errorf("must be true or false, not %q", v)
		}
		return b, nil
	}
	return false, fmt.Errorf("must be true or false, not %s %v", typeName(raw), raw)
}

func parseEnum(raw any, allowed []string) (string, error) {
	s, err := parseString(raw)
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if strings.EqualFold(s, a) {
			return a, nil
		}
	}
	return "", fmt.Errorf("must be one of %s, not %q", strings.Join(allowed, ", "), s)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "an empty"
	case string:
		return "the string"
	case int, int64, float64:
		return "the number"
	case bool:
		return "the boolean"
	case []any:
		return "the list"
	case map[string]any:
		return "the mapping"
	}
	return fmt.Sprintf("%T", v)
}

// splitWords splits s into words at unquoted white space. Single quotes keep
// everything; double quotes keep everything but a backslash-escaped " or \.
func splitWords(s string) ([]string, error) {
	words := []string{}
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'' && r == '\'', quote == '"' && r == '"':
			quote = 0
		case quote == '\'':
			cur.WriteRune(r)
		case r == '\\':
			escaped, inWord = true, true
		case quote == '"':
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("has an unclosed %c quote: %q", quote, s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func nonEmpty(v any) string {
	if strings.TrimSpace(v.(string)) == "" {
		return "must not be empty"
	}
	return ""
}

func nonEmptyList(v any) string {
	if len(v.([]string)) == 0 {
		return "must name at least one entry"
	}
	return ""
}

func envList(v any) string {
	for _, e := range v.([]string) {
		name, _, ok := strings.Cut(e, "=")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return fmt.Sprintf("entries must look like KEY=value, not %q", e)
		}
	}
	return ""
}

func between(lo, hi time.Duration) func(any) string {
	return func(v any) string {
		if d := v.(time.Duration); d < lo || d > hi {
			return fmt.Sprintf("must be between %s and %s, not %s", lo, hi, d)
		}
		return ""
	}
}

// suggest returns " (did you mean x?)" for the known key closest to k.
func suggest(k string) string {
	names := make([]string, len(keys))
	for i, key := range keys {
		names[i] = key.name
	}
	return closest(k, names)
}

func suggestEnv(name string) string {
	names := make([]string, len(keys))
	for i, key := range keys {
		names[i] = envName(key.name)
	}
	return closest(name, names)
}

func closest(s string, names []string) string {
	best, bestD := "", 4
	for _, n := range names {
		if d := distance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return "; see 'devrun config' for the known ones"
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = slices.Min([]int{prev[j] + 1, cur[j-1] + 1, prev[j-1] + cost})
		}
		prev = cur
	}
	return prev[len(b)]
}

func portOrEmpty(v any) string {
	s := v.(string)
	if s == "" {
		return ""
	}
	if n, err := strconv.Atoi(s); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("must be a port number from 1 to 65535, not %q", s)
	}
	return ""
}
